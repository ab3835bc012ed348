import java.io.FilePermission;
import java.security.AccessControlException;
import java.security.AccessController;

/**
 * Asks the installed security manager's policy whether code may read each path given. Prints
 * "granted <path>" or "denied <path>"; the files need not exist, only the permission is checked.
 */
public final class PolicyProbe {
    public static void main(String[] args) {
        for (String path : args) {
            try {
                AccessController.checkPermission(new FilePermission(path, "read"));
                System.out.println("granted " + path);
            } catch (AccessControlException e) {
                System.out.println("denied " + path);
            }
        }
    }
}
