// TokenVerifier: every accepted and refused token shape. Tokens are signed in
// the test with libjwt (HS256, RS256, ES256) and, for ES256, also by OpenSSL
// directly so that the wire signature format (raw r||s, RFC 7518 3.4) is
// checked independently of libjwt. Keys are generated per run.

#include "security/TokenVerifier.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <jwt.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>
#include <thread>

using namespace Qt::StringLiterals;
using medrelay::security::TokenConfig;
using medrelay::security::TokenError;
using medrelay::security::TokenResult;
using medrelay::security::TokenVerifier;
using medrelay::security::VerifiedIdentity;

Q_DECLARE_METATYPE(TokenError)

namespace {

const QByteArray kSecret = "0123456789abcdef0123456789abcdef-test-secret";
const QDateTime kNow = QDateTime::fromSecsSinceEpoch(1'700'000'000, Qt::UTC);
const qint64 kNowSecs = 1'700'000'000;

QByteArray b64(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject baseClaims()
{
    return QJsonObject{{"sub"_L1, u"user-7"_s},
                       {"name"_L1, u"Dr. Example"_s},
                       {"role"_L1, u"clinician"_s},
                       {"rooms"_L1, QJsonArray{u"room-a"_s, u"room-b"_s}},
                       {"appointments"_L1, QJsonArray{101, 102}},
                       {"iss"_L1, u"https://idp.example"_s},
                       {"aud"_L1, u"medrelay"_s},
                       {"exp"_L1, kNowSecs + 600},
                       {"nbf"_L1, kNowSecs - 60}};
}

// Signs with libjwt, as an identity provider using libjwt would.
QByteArray sign(jwt_alg_t alg, const QByteArray &key, const QJsonObject &claims)
{
    jwt_t *j = nullptr;
    if (jwt_new(&j) != 0)
        return {};
    QByteArray out;
    const QByteArray body = json(claims);
    if (jwt_add_grants_json(j, body.constData()) == 0
        && jwt_set_alg(j, alg, reinterpret_cast<const unsigned char *>(key.constData()), int(key.size())) == 0) {
        char *s = jwt_encode_str(j);
        out = QByteArray(s);
        free(s); // NOLINT(cppcoreguidelines-no-malloc): libjwt's allocation
    }
    jwt_free(j);
    return out;
}

QByteArray handBuilt(const QJsonObject &header, const QJsonObject &claims, const QByteArray &sig = {})
{
    return b64(json(header)) + '.' + b64(json(claims)) + '.' + b64(sig);
}

QByteArray pemOf(EVP_PKEY *key, bool priv)
{
    BIO *mem = BIO_new(BIO_s_mem());
    if (priv)
        PEM_write_bio_PrivateKey(mem, key, nullptr, nullptr, 0, nullptr, nullptr);
    else
        PEM_write_bio_PUBKEY(mem, key);
    char *data = nullptr;
    const long n = BIO_get_mem_data(mem, &data);
    QByteArray out(data, n);
    BIO_free(mem);
    return out;
}

// ES256 the way other JOSE libraries write it: DER from OpenSSL turned into
// the fixed-size r||s form.
QByteArray es256Raw(EVP_PKEY *key, const QByteArray &signingInput)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    const auto *in = reinterpret_cast<const unsigned char *>(signingInput.constData());
    EVP_DigestSign(ctx, nullptr, &len, in, size_t(signingInput.size()));
    QByteArray der(qsizetype(len), '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(der.data()), &len, in, size_t(signingInput.size()));
    der.resize(qsizetype(len));
    EVP_MD_CTX_free(ctx);

    const auto *p = reinterpret_cast<const unsigned char *>(der.constData());
    ECDSA_SIG *sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
    QByteArray raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char *>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char *>(raw.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return raw;
}

} // namespace

class TestTokenVerifier final : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();

    void createRejectsBadConfig_data();
    void createRejectsBadConfig();
    void createReportsKeyAlgorithm();

    void validHs256();
    void validRs256();
    void validEs256();
    void es256RawSignatureFromOpenSsl();
    void numericSubjectBecomesText();
    void appointmentIdsAsStrings();

    void badSignature_data();
    void badSignature();
    void algNone_data();
    void algNone();
    void wrongAlgorithm_data();
    void wrongAlgorithm();
    void bothKeysConfigured();

    void timeClaims_data();
    void timeClaims();
    void issuerAndAudience_data();
    void issuerAndAudience();
    void claimShapes_data();
    void claimShapes();

    void oversize();
    void garbage_data();
    void garbage();
    void reasonNamesAreStable();
    void grantChecks();
    void concurrentVerification();
    void nothingLogged();

private:
    std::unique_ptr<const TokenVerifier> make(TokenConfig config);
    TokenConfig hsConfig() const;
    TokenConfig pkConfig(const QString &file) const;

    QTemporaryDir m_dir;
    EVP_PKEY *m_rsa = nullptr;
    EVP_PKEY *m_rsaOther = nullptr;
    EVP_PKEY *m_ec = nullptr;
    QByteArray m_rsaPriv, m_rsaPub, m_rsaOtherPriv, m_ecPriv, m_ecPub;
    QString m_rsaPubFile, m_ecPubFile;
};

std::unique_ptr<const TokenVerifier> TestTokenVerifier::make(TokenConfig config)
{
    auto created = TokenVerifier::create(config);
    if (!created.verifier)
        qWarning("create failed: %s", qPrintable(created.error));
    return std::move(created.verifier);
}

TokenConfig TestTokenVerifier::hsConfig() const
{
    TokenConfig c;
    c.hs256Secret = kSecret;
    c.issuer = u"https://idp.example"_s;
    c.audience = u"medrelay"_s;
    return c;
}

TokenConfig TestTokenVerifier::pkConfig(const QString &file) const
{
    TokenConfig c;
    c.publicKeyFile = file;
    c.issuer = u"https://idp.example"_s;
    c.audience = u"medrelay"_s;
    return c;
}

void TestTokenVerifier::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_rsa = EVP_RSA_gen(2048);
    m_rsaOther = EVP_RSA_gen(2048);
    m_ec = EVP_EC_gen("P-256");
    QVERIFY(m_rsa && m_rsaOther && m_ec);
    m_rsaPriv = pemOf(m_rsa, true);
    m_rsaPub = pemOf(m_rsa, false);
    m_rsaOtherPriv = pemOf(m_rsaOther, true);
    m_ecPriv = pemOf(m_ec, true);
    m_ecPub = pemOf(m_ec, false);

    auto write = [this](const QString &name, const QByteArray &data) {
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly))
            return QString();
        f.write(data);
        return path;
    };
    m_rsaPubFile = write(u"rsa.pub.pem"_s, m_rsaPub);
    m_ecPubFile = write(u"ec.pub.pem"_s, m_ecPub);
    write(u"rsa.key.pem"_s, m_rsaPriv);
    write(u"garbage.pem"_s, "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n");
    EVP_PKEY *small = EVP_RSA_gen(1024);
    write(u"rsa1024.pub.pem"_s, pemOf(small, false));
    EVP_PKEY_free(small);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    write(u"p384.pub.pem"_s, pemOf(p384, false));
    EVP_PKEY_free(p384);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    write(u"ed25519.pub.pem"_s, pemOf(ed, false));
    EVP_PKEY_free(ed);
}

void TestTokenVerifier::cleanupTestCase()
{
    EVP_PKEY_free(m_rsa);
    EVP_PKEY_free(m_rsaOther);
    EVP_PKEY_free(m_ec);
}

void TestTokenVerifier::createRejectsBadConfig_data()
{
    QTest::addColumn<QByteArray>("secret");
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("leeway");
    QTest::addColumn<QString>("expectedInError");

    QTest::addRow("nothing") << QByteArray() << QString() << 30 << u"no token key"_s;
    QTest::addRow("short secret") << QByteArray("short") << QString() << 30 << u"at least 32"_s;
    QTest::addRow("missing file") << QByteArray() << u"no-such.pem"_s << 30 << u"cannot read"_s;
    QTest::addRow("private key") << QByteArray() << u"rsa.key.pem"_s << 30 << u"private key"_s;
    QTest::addRow("garbage pem") << QByteArray() << u"garbage.pem"_s << 30 << u"not a PEM public key"_s;
    QTest::addRow("rsa 1024") << QByteArray() << u"rsa1024.pub.pem"_s << 30 << u"at least 2048"_s;
    QTest::addRow("p384") << QByteArray() << u"p384.pub.pem"_s << 30 << u"P-256"_s;
    QTest::addRow("ed25519") << QByteArray() << u"ed25519.pub.pem"_s << 30 << u"neither RSA"_s;
    QTest::addRow("negative leeway") << kSecret << QString() << -1 << u"leeway"_s;
}

void TestTokenVerifier::createRejectsBadConfig()
{
    QFETCH(QByteArray, secret);
    QFETCH(QString, file);
    QFETCH(int, leeway);
    QFETCH(QString, expectedInError);
    TokenConfig c;
    c.hs256Secret = secret;
    c.publicKeyFile = file.isEmpty() ? QString() : m_dir.filePath(file);
    c.leewaySeconds = leeway;
    const auto created = TokenVerifier::create(c);
    QVERIFY(!created.verifier);
    QVERIFY2(created.error.contains(expectedInError), qPrintable(created.error));
    if (!secret.isEmpty())
        QVERIFY(!created.error.contains(QString::fromLatin1(secret)));
}

void TestTokenVerifier::createReportsKeyAlgorithm()
{
    auto rsa = make(pkConfig(m_rsaPubFile));
    auto ec = make(pkConfig(m_ecPubFile));
    auto hs = make(hsConfig());
    QVERIFY(rsa && ec && hs);
    QCOMPARE(rsa->publicKeyAlgorithm(), "RS256"_L1);
    QCOMPARE(ec->publicKeyAlgorithm(), "ES256"_L1);
    QVERIFY(hs->publicKeyAlgorithm().isEmpty());
    QVERIFY(hs->acceptsHs256());
    QVERIFY(!rsa->acceptsHs256());
}

void TestTokenVerifier::validHs256()
{
    auto v = make(hsConfig());
    QVERIFY(v);
    const TokenResult r = v->verifyAt(sign(JWT_ALG_HS256, kSecret, baseClaims()), kNow);
    QVERIFY2(r.ok(), r.ok() ? "" : reasonName(r.error()).data());
    const VerifiedIdentity &id = r.identity();
    QCOMPARE(id.userId, u"user-7"_s);
    QCOMPARE(id.name, u"Dr. Example"_s);
    QCOMPARE(id.role, u"clinician"_s);
    QCOMPARE(id.rooms, (QStringList{u"room-a"_s, u"room-b"_s}));
    QCOMPARE(id.appointments, (QList<qint64>{101, 102}));
    QCOMPARE(id.expiresAt, QDateTime::fromSecsSinceEpoch(kNowSecs + 600, Qt::UTC));
    QCOMPARE(id.notBefore, QDateTime::fromSecsSinceEpoch(kNowSecs - 60, Qt::UTC));

    // verify() uses the real clock: a token valid now passes.
    QJsonObject c = baseClaims();
    c["exp"_L1] = QDateTime::currentSecsSinceEpoch() + 60;
    c.remove("nbf"_L1);
    QVERIFY(v->verify(sign(JWT_ALG_HS256, kSecret, c)).ok());
    c["exp"_L1] = QDateTime::currentSecsSinceEpoch() - 3600;
    QCOMPARE(v->verify(sign(JWT_ALG_HS256, kSecret, c)).error(), TokenError::Expired);
}

void TestTokenVerifier::validRs256()
{
    auto v = make(pkConfig(m_rsaPubFile));
    QVERIFY(v);
    const TokenResult r = v->verifyAt(sign(JWT_ALG_RS256, m_rsaPriv, baseClaims()), kNow);
    QVERIFY2(r.ok(), r.ok() ? "" : reasonName(r.error()).data());
    QCOMPARE(r.identity().userId, u"user-7"_s);
}

void TestTokenVerifier::validEs256()
{
    auto v = make(pkConfig(m_ecPubFile));
    QVERIFY(v);
    const TokenResult r = v->verifyAt(sign(JWT_ALG_ES256, m_ecPriv, baseClaims()), kNow);
    QVERIFY2(r.ok(), r.ok() ? "" : reasonName(r.error()).data());
    QCOMPARE(r.identity().role, u"clinician"_s);
}

void TestTokenVerifier::es256RawSignatureFromOpenSsl()
{
    auto v = make(pkConfig(m_ecPubFile));
    QVERIFY(v);
    const QByteArray input = b64(json(QJsonObject{{"alg"_L1, u"ES256"_s}, {"typ"_L1, u"JWT"_s}})) + '.'
        + b64(json(baseClaims()));
    const QByteArray token = input + '.' + b64(es256Raw(m_ec, input));
    const TokenResult r = v->verifyAt(token, kNow);
    QVERIFY2(r.ok(), r.ok() ? "" : reasonName(r.error()).data());

    // The signature made by libjwt has the same 64-byte JOSE form.
    const QByteArray libjwtToken = sign(JWT_ALG_ES256, m_ecPriv, baseClaims());
    const QByteArray sig = QByteArray::fromBase64(libjwtToken.sliced(libjwtToken.lastIndexOf('.') + 1),
                                                  QByteArray::Base64UrlEncoding);
    QCOMPARE(sig.size(), 64);
}

void TestTokenVerifier::numericSubjectBecomesText()
{
    auto v = make(hsConfig());
    QJsonObject c = baseClaims();
    c["sub"_L1] = 4711;
    const TokenResult r = v->verifyAt(sign(JWT_ALG_HS256, kSecret, c), kNow);
    QVERIFY(r.ok());
    QCOMPARE(r.identity().userId, u"4711"_s);
}

void TestTokenVerifier::appointmentIdsAsStrings()
{
    auto v = make(hsConfig());
    QJsonObject c = baseClaims();
    c["appointments"_L1] = QJsonArray{u"55"_s, 56};
    const TokenResult r = v->verifyAt(sign(JWT_ALG_HS256, kSecret, c), kNow);
    QVERIFY(r.ok());
    QCOMPARE(r.identity().appointments, (QList<qint64>{55, 56}));
    c["appointments"_L1] = QJsonArray{u"+55"_s};
    QCOMPARE(v->verifyAt(sign(JWT_ALG_HS256, kSecret, c), kNow).error(), TokenError::InvalidClaim);
}

void TestTokenVerifier::badSignature_data()
{
    QTest::addColumn<QString>("keyKind");
    QTest::addColumn<QByteArray>("token");
    const QByteArray good = sign(JWT_ALG_HS256, kSecret, baseClaims());
    QJsonObject admin = baseClaims();
    admin["role"_L1] = u"admin"_s;
    const QByteArray adminBody = b64(json(admin));
    const qsizetype d1 = good.indexOf('.');
    const qsizetype d2 = good.lastIndexOf('.');

    QTest::addRow("hs256 other secret")
        << u"hs"_s << sign(JWT_ALG_HS256, "another-secret-another-secret-another-secret", baseClaims());
    QTest::addRow("hs256 payload swapped") << u"hs"_s << (good.first(d1 + 1) + adminBody + good.sliced(d2));
    QByteArray flipped = good;
    flipped[flipped.size() - 2] = flipped.at(flipped.size() - 2) == 'A' ? 'B' : 'A';
    QTest::addRow("hs256 signature flipped") << u"hs"_s << flipped;
    QTest::addRow("hs256 signature truncated") << u"hs"_s << good.chopped(3);
    QTest::addRow("rs256 other key") << u"rsa"_s << sign(JWT_ALG_RS256, m_rsaOtherPriv, baseClaims());
    const QByteArray rs = sign(JWT_ALG_RS256, m_rsaPriv, baseClaims());
    QTest::addRow("rs256 payload swapped")
        << u"rsa"_s << (rs.first(rs.indexOf('.') + 1) + adminBody + rs.sliced(rs.lastIndexOf('.')));
    QTest::addRow("rs256 empty signature") << u"rsa"_s << rs.first(rs.lastIndexOf('.') + 1);
    const QByteArray es = sign(JWT_ALG_ES256, m_ecPriv, baseClaims());
    QTest::addRow("es256 payload swapped")
        << u"ec"_s << (es.first(es.indexOf('.') + 1) + adminBody + es.sliced(es.lastIndexOf('.')));
    QTest::addRow("es256 short signature") << u"ec"_s << es.chopped(10);
}

void TestTokenVerifier::badSignature()
{
    QFETCH(QString, keyKind);
    QFETCH(QByteArray, token);
    auto v = make(keyKind == "hs"_L1 ? hsConfig() : pkConfig(keyKind == "rsa"_L1 ? m_rsaPubFile : m_ecPubFile));
    QVERIFY(v);
    const TokenResult r = v->verifyAt(token, kNow);
    QVERIFY(!r.ok());
    QCOMPARE(reasonName(r.error()), reasonName(TokenError::BadSignature));
}

void TestTokenVerifier::algNone_data()
{
    QTest::addColumn<QByteArray>("token");
    const QJsonObject claims = baseClaims();
    for (const QString &alg : {u"none"_s, u"None"_s, u"NONE"_s, u"nOnE"_s}) {
        QTest::addRow("%s unsigned", qPrintable(alg))
            << handBuilt(QJsonObject{{"alg"_L1, alg}, {"typ"_L1, u"JWT"_s}}, claims);
        QTest::addRow("%s with signature", qPrintable(alg))
            << handBuilt(QJsonObject{{"alg"_L1, alg}}, claims, "some-signature");
    }
    // Two segments only, as some libraries write unsigned tokens.
    QTest::addRow("two segments") << (b64(R"({"alg":"none"})") + '.' + b64(json(claims)));
}

void TestTokenVerifier::algNone()
{
    QFETCH(QByteArray, token);
    for (const TokenConfig &c : {hsConfig(), pkConfig(m_rsaPubFile), pkConfig(m_ecPubFile)}) {
        auto v = make(c);
        QVERIFY(v);
        const TokenResult r = v->verifyAt(token, kNow);
        QVERIFY(!r.ok());
        if (token.count('.') == 2)
            QCOMPARE(reasonName(r.error()), reasonName(TokenError::AlgorithmNotAllowed));
        else
            QCOMPARE(reasonName(r.error()), reasonName(TokenError::Malformed));
    }
}

void TestTokenVerifier::wrongAlgorithm_data()
{
    QTest::addColumn<QString>("keyKind");
    QTest::addColumn<QByteArray>("token");
    // The classic confusion: HS256 keyed with the (public) RSA key's PEM.
    QTest::addRow("hs256 with public key as secret, rsa configured")
        << u"rsa"_s << sign(JWT_ALG_HS256, m_rsaPub, baseClaims());
    QTest::addRow("hs256 with public key as secret, ec configured")
        << u"ec"_s << sign(JWT_ALG_HS256, m_ecPub, baseClaims());
    QTest::addRow("rs256 when only hs256") << u"hs"_s << sign(JWT_ALG_RS256, m_rsaPriv, baseClaims());
    QTest::addRow("es256 when rsa key") << u"rsa"_s << sign(JWT_ALG_ES256, m_ecPriv, baseClaims());
    QTest::addRow("rs256 when ec key") << u"ec"_s << sign(JWT_ALG_RS256, m_rsaPriv, baseClaims());
    QTest::addRow("hs512") << u"hs"_s << sign(JWT_ALG_HS512, kSecret, baseClaims());
    QTest::addRow("hs384") << u"hs"_s << sign(JWT_ALG_HS384, kSecret, baseClaims());
    QTest::addRow("rs512") << u"rsa"_s << sign(JWT_ALG_RS512, m_rsaPriv, baseClaims());
    QTest::addRow("lowercase hs256")
        << u"hs"_s << handBuilt(QJsonObject{{"alg"_L1, u"hs256"_s}}, baseClaims(), "sig");
    QTest::addRow("ps256") << u"rsa"_s << handBuilt(QJsonObject{{"alg"_L1, u"PS256"_s}}, baseClaims(), "sig");
}

void TestTokenVerifier::wrongAlgorithm()
{
    QFETCH(QString, keyKind);
    QFETCH(QByteArray, token);
    QVERIFY(!token.isEmpty());
    auto v = make(keyKind == "hs"_L1 ? hsConfig() : pkConfig(keyKind == "rsa"_L1 ? m_rsaPubFile : m_ecPubFile));
    QVERIFY(v);
    const TokenResult r = v->verifyAt(token, kNow);
    QVERIFY(!r.ok());
    QCOMPARE(reasonName(r.error()), reasonName(TokenError::AlgorithmNotAllowed));
}

void TestTokenVerifier::bothKeysConfigured()
{
    TokenConfig c = pkConfig(m_rsaPubFile);
    c.hs256Secret = kSecret;
    auto v = make(c);
    QVERIFY(v);
    QVERIFY(v->verifyAt(sign(JWT_ALG_HS256, kSecret, baseClaims()), kNow).ok());
    QVERIFY(v->verifyAt(sign(JWT_ALG_RS256, m_rsaPriv, baseClaims()), kNow).ok());
    // HS256 is checked with the secret only, never with the public key.
    QCOMPARE(v->verifyAt(sign(JWT_ALG_HS256, m_rsaPub, baseClaims()), kNow).error(), TokenError::BadSignature);
}

void TestTokenVerifier::timeClaims_data()
{
    QTest::addColumn<QJsonValue>("exp");
    QTest::addColumn<QJsonValue>("nbf");
    QTest::addColumn<int>("leeway");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<TokenError>("error");
    const QJsonValue none(QJsonValue::Undefined);
    QTest::addRow("expired long ago") << QJsonValue(kNowSecs - 3600) << none << 30 << false << TokenError::Expired;
    QTest::addRow("expired beyond leeway") << QJsonValue(kNowSecs - 31) << none << 30 << false << TokenError::Expired;
    QTest::addRow("expired within leeway") << QJsonValue(kNowSecs - 30) << none << 30 << true << TokenError::Expired;
    QTest::addRow("expired, no leeway") << QJsonValue(kNowSecs - 1) << none << 0 << false << TokenError::Expired;
    QTest::addRow("exp fractional") << QJsonValue(kNowSecs + 0.5) << none << 0 << true << TokenError::Expired;
    QTest::addRow("exp missing") << none << none << 30 << false << TokenError::MissingClaim;
    QTest::addRow("exp string") << QJsonValue(u"tomorrow"_s) << none << 30 << false << TokenError::InvalidClaim;
    QTest::addRow("nbf future") << QJsonValue(kNowSecs + 600) << QJsonValue(kNowSecs + 100) << 30 << false
                                << TokenError::NotYetValid;
    QTest::addRow("nbf beyond leeway") << QJsonValue(kNowSecs + 600) << QJsonValue(kNowSecs + 31) << 30 << false
                                       << TokenError::NotYetValid;
    QTest::addRow("nbf within leeway") << QJsonValue(kNowSecs + 600) << QJsonValue(kNowSecs + 30) << 30 << true
                                       << TokenError::NotYetValid;
    QTest::addRow("nbf bool") << QJsonValue(kNowSecs + 600) << QJsonValue(true) << 30 << false
                              << TokenError::InvalidClaim;
}

void TestTokenVerifier::timeClaims()
{
    QFETCH(QJsonValue, exp);
    QFETCH(QJsonValue, nbf);
    QFETCH(int, leeway);
    QFETCH(bool, ok);
    QFETCH(TokenError, error);
    TokenConfig c = hsConfig();
    c.leewaySeconds = leeway;
    auto v = make(c);
    QJsonObject claims = baseClaims();
    claims.remove("exp"_L1);
    claims.remove("nbf"_L1);
    if (!exp.isUndefined())
        claims["exp"_L1] = exp;
    if (!nbf.isUndefined())
        claims["nbf"_L1] = nbf;
    const TokenResult r = v->verifyAt(sign(JWT_ALG_HS256, kSecret, claims), kNow);
    QCOMPARE(r.ok(), ok);
    if (!ok)
        QCOMPARE(reasonName(r.error()), reasonName(error));
}

void TestTokenVerifier::issuerAndAudience_data()
{
    QTest::addColumn<QJsonValue>("iss");
    QTest::addColumn<QJsonValue>("aud");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<TokenError>("error");
    const QJsonValue iss(u"https://idp.example"_s);
    const QJsonValue aud(u"medrelay"_s);
    const QJsonValue none(QJsonValue::Undefined);
    QTest::addRow("both right") << iss << aud << true << TokenError::Malformed;
    QTest::addRow("aud array containing") << iss << QJsonValue(QJsonArray{u"other"_s, u"medrelay"_s}) << true
                                          << TokenError::Malformed;
    QTest::addRow("wrong iss") << QJsonValue(u"https://evil.example"_s) << aud << false << TokenError::WrongIssuer;
    QTest::addRow("iss case differs") << QJsonValue(u"https://IDP.example"_s) << aud << false
                                      << TokenError::WrongIssuer;
    QTest::addRow("iss number") << QJsonValue(5) << aud << false << TokenError::WrongIssuer;
    QTest::addRow("iss missing") << none << aud << false << TokenError::MissingClaim;
    QTest::addRow("wrong aud") << iss << QJsonValue(u"other"_s) << false << TokenError::WrongAudience;
    QTest::addRow("aud array without") << iss << QJsonValue(QJsonArray{u"a"_s, u"b"_s}) << false
                                       << TokenError::WrongAudience;
    QTest::addRow("aud empty array") << iss << QJsonValue(QJsonArray{}) << false << TokenError::WrongAudience;
    QTest::addRow("aud number") << iss << QJsonValue(1) << false << TokenError::WrongAudience;
    QTest::addRow("aud missing") << iss << none << false << TokenError::MissingClaim;
}

void TestTokenVerifier::issuerAndAudience()
{
    QFETCH(QJsonValue, iss);
    QFETCH(QJsonValue, aud);
    QFETCH(bool, ok);
    QFETCH(TokenError, error);
    auto v = make(hsConfig());
    QJsonObject claims = baseClaims();
    claims.remove("iss"_L1);
    claims.remove("aud"_L1);
    if (!iss.isUndefined())
        claims["iss"_L1] = iss;
    if (!aud.isUndefined())
        claims["aud"_L1] = aud;
    const TokenResult r = v->verifyAt(sign(JWT_ALG_HS256, kSecret, claims), kNow);
    QCOMPARE(r.ok(), ok);
    if (!ok)
        QCOMPARE(reasonName(r.error()), reasonName(error));

    // Without a configured issuer/audience the claims are not required.
    TokenConfig open = hsConfig();
    open.issuer.clear();
    open.audience.clear();
    QVERIFY(make(open)->verifyAt(sign(JWT_ALG_HS256, kSecret, claims), kNow).ok());
}

void TestTokenVerifier::claimShapes_data()
{
    QTest::addColumn<QString>("claim");
    QTest::addColumn<QJsonValue>("value"); // undefined = remove the claim
    QTest::addColumn<TokenError>("error");
    QTest::addRow("sub missing") << u"sub"_s << QJsonValue(QJsonValue::Undefined) << TokenError::MissingClaim;
    QTest::addRow("sub null") << u"sub"_s << QJsonValue(QJsonValue::Null) << TokenError::MissingClaim;
    QTest::addRow("sub empty") << u"sub"_s << QJsonValue(u""_s) << TokenError::InvalidClaim;
    QTest::addRow("sub fraction") << u"sub"_s << QJsonValue(1.5) << TokenError::InvalidClaim;
    QTest::addRow("sub object") << u"sub"_s << QJsonValue(QJsonObject{}) << TokenError::InvalidClaim;
    QTest::addRow("sub too long") << u"sub"_s << QJsonValue(QString(129, u'x')) << TokenError::InvalidClaim;
    QTest::addRow("sub control char") << u"sub"_s << QJsonValue(u"a\nb"_s) << TokenError::InvalidClaim;
    QTest::addRow("role missing") << u"role"_s << QJsonValue(QJsonValue::Undefined) << TokenError::MissingClaim;
    QTest::addRow("role unknown") << u"role"_s << QJsonValue(u"superuser"_s) << TokenError::InvalidClaim;
    QTest::addRow("role case") << u"role"_s << QJsonValue(u"Admin"_s) << TokenError::InvalidClaim;
    QTest::addRow("role number") << u"role"_s << QJsonValue(1) << TokenError::InvalidClaim;
    QTest::addRow("name number") << u"name"_s << QJsonValue(1) << TokenError::InvalidClaim;
    QTest::addRow("rooms string") << u"rooms"_s << QJsonValue(u"room-a"_s) << TokenError::InvalidClaim;
    QTest::addRow("rooms with number") << u"rooms"_s << QJsonValue(QJsonArray{1}) << TokenError::InvalidClaim;
    QTest::addRow("appointments fraction")
        << u"appointments"_s << QJsonValue(QJsonArray{1.5}) << TokenError::InvalidClaim;
    QTest::addRow("appointments object") << u"appointments"_s << QJsonValue(QJsonObject{})
                                         << TokenError::InvalidClaim;
}

void TestTokenVerifier::claimShapes()
{
    QFETCH(QString, claim);
    QFETCH(QJsonValue, value);
    QFETCH(TokenError, error);
    auto v = make(hsConfig());
    QJsonObject claims = baseClaims();
    if (value.isUndefined())
        claims.remove(claim);
    else
        claims[claim] = value;
    const TokenResult r = v->verifyAt(sign(JWT_ALG_HS256, kSecret, claims), kNow);
    QVERIFY(!r.ok());
    QCOMPARE(reasonName(r.error()), reasonName(error));
}

void TestTokenVerifier::oversize()
{
    auto v = make(hsConfig());
    QJsonObject claims = baseClaims();
    claims["pad"_L1] = QString(7000, u'x');
    const QByteArray big = sign(JWT_ALG_HS256, kSecret, claims);
    QVERIFY(big.size() > TokenVerifier::kMaxTokenSize);
    QCOMPARE(v->verifyAt(big, kNow).error(), TokenError::TooLarge);
    QCOMPARE(v->verifyAt(QByteArray(TokenVerifier::kMaxTokenSize + 1, 'a'), kNow).error(), TokenError::TooLarge);
    // Just under the limit is read (and refused for its shape, not its size).
    QCOMPARE(v->verifyAt(QByteArray(TokenVerifier::kMaxTokenSize, 'a'), kNow).error(), TokenError::Malformed);
}

void TestTokenVerifier::garbage_data()
{
    QTest::addColumn<QByteArray>("token");
    const QByteArray claims = b64(json(baseClaims()));
    QTest::addRow("empty") << QByteArray();
    QTest::addRow("word") << QByteArray("hello");
    QTest::addRow("one dot") << QByteArray("a.b");
    QTest::addRow("four segments") << QByteArray("a.b.c.d");
    QTest::addRow("dots only") << QByteArray("..");
    QTest::addRow("space") << QByteArray("eyJh bGciOiJIUzI1NiJ9.e30.sig");
    QTest::addRow("nul byte") << QByteArray("eyJhbGciOiJIUzI1NiJ9\0.e30.sig", 28);
    QTest::addRow("padding") << (b64(R"({"alg":"HS256"})") + "==." + claims + ".c2ln");
    QTest::addRow("standard base64 chars") << (b64(R"({"alg":"HS256"})") + '.' + claims + ".ab+/");
    QTest::addRow("header not json") << (b64("not json") + '.' + claims + ".c2ln");
    QTest::addRow("header array") << (b64(R"(["HS256"])") + '.' + claims + ".c2ln");
    QTest::addRow("header without alg") << (b64(R"({"typ":"JWT"})") + '.' + claims + ".c2ln");
    QTest::addRow("alg not string") << (b64(R"({"alg":256})") + '.' + claims + ".c2ln");
    QTest::addRow("typ JWE") << (b64(R"({"alg":"HS256","typ":"JWE"})") + '.' + claims + ".c2ln");
    QTest::addRow("crit header") << (b64(R"({"alg":"HS256","crit":["exp"]})") + '.' + claims + ".c2ln");
    QTest::addRow("payload not json") << (b64(R"({"alg":"HS256"})") + '.' + b64("[1,2]") + ".c2ln");
    QTest::addRow("payload empty") << (b64(R"({"alg":"HS256"})") + "..c2ln");
    QTest::addRow("utf8 junk") << QByteArray("\xc3\x28.\xa0\xa1.\xe2\x28\xa1");
}

void TestTokenVerifier::garbage()
{
    QFETCH(QByteArray, token);
    auto v = make(hsConfig());
    const TokenResult r = v->verifyAt(token, kNow);
    QVERIFY(!r.ok());
    QCOMPARE(reasonName(r.error()), reasonName(TokenError::Malformed));
}

void TestTokenVerifier::reasonNamesAreStable()
{
    // These strings are part of the metrics and audit vocabulary.
    QCOMPARE(reasonName(TokenError::Malformed), "malformed"_L1);
    QCOMPARE(reasonName(TokenError::BadSignature), "bad_signature"_L1);
    QCOMPARE(reasonName(TokenError::AlgorithmNotAllowed), "algorithm_not_allowed"_L1);
    QCOMPARE(reasonName(TokenError::Expired), "expired"_L1);
    QCOMPARE(reasonName(TokenError::NotYetValid), "not_yet_valid"_L1);
    QCOMPARE(reasonName(TokenError::WrongIssuer), "wrong_issuer"_L1);
    QCOMPARE(reasonName(TokenError::WrongAudience), "wrong_audience"_L1);
    QCOMPARE(reasonName(TokenError::MissingClaim), "missing_claim"_L1);
    QCOMPARE(reasonName(TokenError::InvalidClaim), "invalid_claim"_L1);
    QCOMPARE(reasonName(TokenError::TooLarge), "too_large"_L1);
}

void TestTokenVerifier::grantChecks()
{
    VerifiedIdentity id;
    id.role = u"clinician"_s;
    id.rooms = {u"room-a"_s};
    id.appointments = {42};
    QVERIFY(medrelay::security::grants(id, u"room-a"_s, 0));
    QVERIFY(medrelay::security::grants(id, u"room-z"_s, 42));
    QVERIFY(!medrelay::security::grants(id, u"room-z"_s, 43));
    QVERIFY(!medrelay::security::grants(id, u"ROOM-A"_s, 43));
    QVERIFY(!medrelay::security::grants(id, QString(), 43));

    VerifiedIdentity admin;
    admin.role = u"admin"_s;
    QVERIFY(!medrelay::security::grants(admin, u"room-a"_s, 42));
}

void TestTokenVerifier::concurrentVerification()
{
    TokenConfig c = pkConfig(m_rsaPubFile);
    c.hs256Secret = kSecret;
    auto v = make(c);
    QVERIFY(v);
    const QByteArray hsGood = sign(JWT_ALG_HS256, kSecret, baseClaims());
    const QByteArray rsGood = sign(JWT_ALG_RS256, m_rsaPriv, baseClaims());
    const QByteArray rsBad = sign(JWT_ALG_RS256, m_rsaOtherPriv, baseClaims());
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 150; ++i) {
                if (!v->verifyAt(hsGood, kNow).ok() || !v->verifyAt(rsGood, kNow).ok()
                    || v->verifyAt(rsBad, kNow).ok())
                    ++wrong;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    QCOMPARE(wrong.load(), 0);
}

namespace {
QStringList g_logged;
void captureMessages(QtMsgType, const QMessageLogContext &, const QString &msg)
{
    g_logged.append(msg);
}
} // namespace

void TestTokenVerifier::nothingLogged()
{
    auto v = make(hsConfig());
    const QByteArray good = sign(JWT_ALG_HS256, kSecret, baseClaims());
    const QByteArray bad = sign(JWT_ALG_HS256, "another-secret-another-secret-another-secret", baseClaims());
    g_logged.clear();
    const QtMessageHandler old = qInstallMessageHandler(captureMessages);
    (void)v->verifyAt(good, kNow);
    (void)v->verifyAt(bad, kNow);
    (void)v->verifyAt("garbage", kNow);
    qInstallMessageHandler(old);
    QVERIFY2(g_logged.isEmpty(), qPrintable(g_logged.join(u'\n')));
}

QTEST_GUILESS_MAIN(TestTokenVerifier)
#include "tst_tokenverifier.moc"
