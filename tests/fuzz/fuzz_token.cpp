// Fuzzes TokenVerifier. The first input byte picks what the rest is:
//   0: a raw token, verified by an HS256+RS256 and by an ES256 verifier;
//   1: the claims JSON of a token that is then correctly HS256-signed, so the
//      claim checks behind the signature are reached;
//   2: the header JSON of such a token (algorithm and typ handling).
// Invariant: an accepted token always yields a known role and a user id.

#include "security/TokenVerifier.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>

using namespace medrelay::security;
using namespace Qt::StringLiterals;

namespace {

const QByteArray kSecret = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
const QDateTime kNow = QDateTime::fromSecsSinceEpoch(1'700'000'000, Qt::UTC);

struct Verifiers
{
    std::unique_ptr<const TokenVerifier> hsRsa;
    std::unique_ptr<const TokenVerifier> ec;
};

QString writePublicKey(EVP_PKEY *key, const QString &path)
{
    BIO *mem = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(mem, key);
    char *p = nullptr;
    const long n = BIO_get_mem_data(mem, &p);
    QFile f(path);
    if (f.open(QIODevice::WriteOnly))
        f.write(p, n);
    BIO_free(mem);
    EVP_PKEY_free(key);
    return path;
}

const Verifiers &verifiers()
{
    static const Verifiers v = [] {
        Verifiers out;
        QTemporaryDir dir;
        TokenConfig c;
        c.hs256Secret = kSecret;
        c.publicKeyFile = writePublicKey(EVP_RSA_gen(2048), dir.filePath(u"rsa.pem"_s));
        c.issuer = u"https://idp.example"_s;
        c.audience = u"medrelay"_s;
        out.hsRsa = std::move(TokenVerifier::create(c).verifier);
        TokenConfig e;
        e.publicKeyFile = writePublicKey(EVP_EC_gen("P-256"), dir.filePath(u"ec.pem"_s));
        out.ec = std::move(TokenVerifier::create(e).verifier);
        if (!out.hsRsa || !out.ec)
            __builtin_trap();
        return out;
    }();
    return v;
}

QByteArray b64(QByteArrayView d)
{
    return d.toByteArray().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray signHs256(QByteArrayView header, QByteArrayView claims)
{
    const QByteArray input = b64(header) + '.' + b64(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), kSecret.constData(), int(kSecret.size()),
         reinterpret_cast<const unsigned char *>(input.constData()), size_t(input.size()), mac, &len);
    return input + '.' + b64(QByteArrayView(reinterpret_cast<const char *>(mac), qsizetype(len)));
}

void check(const TokenResult &r)
{
    if (!r.ok()) {
        if (reasonName(r.error()) == "unknown"_L1)
            __builtin_trap();
        return;
    }
    const VerifiedIdentity &id = r.identity();
    if (id.userId.isEmpty() || !(id.role == "clinician"_L1 || id.role == "patient"_L1
                                 || id.role == "observer"_L1 || id.role == "admin"_L1))
        __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const Verifiers &v = verifiers();
    const QByteArrayView rest(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    switch (data[0] % 3) {
    case 0:
        check(v.hsRsa->verifyAt(rest, kNow));
        check(v.ec->verifyAt(rest, kNow));
        break;
    case 1:
        check(v.hsRsa->verifyAt(signHs256(R"({"alg":"HS256","typ":"JWT"})", rest), kNow));
        break;
    case 2:
        check(v.hsRsa->verifyAt(
            signHs256(rest, R"({"sub":"u1","role":"patient","exp":1800000000,"iss":"https://idp.example","aud":"medrelay"})"),
            kNow));
        break;
    }
    return 0;
}
