package local.escluster.discovery;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/** TLS from PEM material: trust a CA bundle, and optionally present a client certificate. */
final class Pem {
    private static final Pattern KEY = Pattern.compile("-----BEGIN (RSA |EC )?PRIVATE KEY-----([^-]+)-----END");
    private static final char[] NO_PASSWORD = new char[0];

    private Pem() {}

    /** A socket factory trusting {@code ca} (or the JVM's CAs when null), presenting {@code cert}+{@code key} if given. */
    static SSLSocketFactory socketFactory(byte[] ca, byte[] cert, byte[] key) throws Exception {
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (ca == null) {
            trust.init((KeyStore) null);
        } else {
            KeyStore store = emptyStore();
            int i = 0;
            for (Certificate c : certificates(ca)) {
                store.setCertificateEntry("ca-" + i++, c);
            }
            trust.init(store);
        }
        KeyManagerFactory keys = null;
        if (cert != null && key != null) {
            KeyStore store = emptyStore();
            store.setKeyEntry("client", privateKey(key), NO_PASSWORD, certificates(cert).toArray(new Certificate[0]));
            keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, NO_PASSWORD);
        }
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys == null ? null : keys.getKeyManagers(), trust.getTrustManagers(), null);
        return context.getSocketFactory();
    }

    private static KeyStore emptyStore() throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        return store;
    }

    private static Collection<? extends Certificate> certificates(byte[] pem) throws Exception {
        Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem));
        if (certs.isEmpty()) {
            throw new IllegalArgumentException("no certificate in PEM data");
        }
        return certs;
    }

    /** A PKCS#8 key ("PRIVATE KEY"), or a PKCS#1 RSA key ("RSA PRIVATE KEY"), wrapped into PKCS#8. */
    static PrivateKey privateKey(byte[] pem) throws Exception {
        Matcher m = KEY.matcher(new String(pem, StandardCharsets.US_ASCII));
        if (!m.find()) {
            throw new IllegalArgumentException("no PEM private key");
        }
        byte[] der = Base64.getMimeDecoder().decode(m.group(2).trim());
        if ("EC ".equals(m.group(1))) {
            throw new IllegalArgumentException("SEC1 EC keys are not supported; convert the key to PKCS#8");
        }
        if ("RSA ".equals(m.group(1))) {
            der = rsaPkcs1ToPkcs8(der);
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        try {
            return KeyFactory.getInstance("RSA").generatePrivate(spec);
        } catch (Exception notRsa) {
            return KeyFactory.getInstance("EC").generatePrivate(spec);
        }
    }

    // PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier rsaEncryption NULL, OCTET STRING pkcs1 }
    private static final byte[] RSA_ALGORITHM = {
        0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00
    };

    private static byte[] rsaPkcs1ToPkcs8(byte[] pkcs1) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(0x02);
        body.write(0x01);
        body.write(0x00);
        body.write(RSA_ALGORITHM, 0, RSA_ALGORITHM.length);
        body.write(0x04);
        writeLength(body, pkcs1.length);
        body.write(pkcs1, 0, pkcs1.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x30);
        writeLength(out, body.size());
        byte[] b = body.toByteArray();
        out.write(b, 0, b.length);
        return out.toByteArray();
    }

    private static void writeLength(ByteArrayOutputStream out, int length) {
        if (length < 0x80) {
            out.write(length);
        } else if (length < 0x100) {
            out.write(0x81);
            out.write(length);
        } else if (length < 0x10000) {
            out.write(0x82);
            out.write(length >> 8);
            out.write(length & 0xff);
        } else {
            out.write(0x83);
            out.write(length >> 16);
            out.write((length >> 8) & 0xff);
            out.write(length & 0xff);
        }
    }
}
