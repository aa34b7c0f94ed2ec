#include "security/TokenVerifier.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cmath>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMinSecretBytes = 32; // RFC 7518 3.2: key at least the hash size
constexpr int kMinRsaBits = 2048;
constexpr int kMaxLeewaySeconds = 600;
constexpr qsizetype kMaxIdChars = 128;
constexpr qsizetype kMaxListEntries = 1024;
constexpr double kMaxSafeInteger = 9007199254740991.0; // 2^53 - 1: exact in a JSON number

struct JwtDeleter
{
    void operator()(jwt_t *j) const { jwt_free(j); }
};
struct BioDeleter
{
    void operator()(BIO *b) const { BIO_free(b); }
};
struct PkeyDeleter
{
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};

bool isBase64UrlChar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
        || c == '_';
}

std::optional<QJsonObject> decodeJsonSegment(QByteArrayView segment)
{
    if (segment.isEmpty())
        return std::nullopt;
    auto decoded = QByteArray::fromBase64Encoding(
        segment.toByteArray(), QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals
                                   | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(*decoded, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    return doc.object();
}

// A JSON number that is a whole number of seconds (or an id) and fits exactly.
std::optional<qint64> wholeNumber(const QJsonValue &v)
{
    if (!v.isDouble())
        return std::nullopt;
    const double d = v.toDouble();
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > kMaxSafeInteger)
        return std::nullopt;
    return static_cast<qint64>(d);
}

// NumericDate (RFC 7519 2): seconds, fractions allowed; rounded towards the
// stricter side by the callers' comparisons being on whole seconds.
std::optional<qint64> numericDate(const QJsonValue &v)
{
    if (!v.isDouble())
        return std::nullopt;
    const double d = v.toDouble();
    if (!std::isfinite(d) || std::fabs(d) > kMaxSafeInteger)
        return std::nullopt;
    return static_cast<qint64>(std::floor(d));
}

bool isBuiltInRole(const QString &role)
{
    return role == "clinician"_L1 || role == "doctor"_L1 || role == "nurse"_L1 || role == "patient"_L1
        || role == "caregiver"_L1 || role == "observer"_L1 || role == "admin"_L1;
}

bool isValidId(const QString &s)
{
    if (s.isEmpty() || s.size() > kMaxIdChars)
        return false;
    for (const QChar c : s) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return false;
    }
    return true;
}

} // namespace

QLatin1StringView reasonName(TokenError error)
{
    switch (error) {
    case TokenError::Malformed: return "malformed"_L1;
    case TokenError::BadSignature: return "bad_signature"_L1;
    case TokenError::AlgorithmNotAllowed: return "algorithm_not_allowed"_L1;
    case TokenError::Expired: return "expired"_L1;
    case TokenError::NotYetValid: return "not_yet_valid"_L1;
    case TokenError::WrongIssuer: return "wrong_issuer"_L1;
    case TokenError::WrongAudience: return "wrong_audience"_L1;
    case TokenError::MissingClaim: return "missing_claim"_L1;
    case TokenError::InvalidClaim: return "invalid_claim"_L1;
    case TokenError::TooLarge: return "too_large"_L1;
    }
    return "unknown"_L1;
}

TokenVerifier::~TokenVerifier() = default;

QLatin1StringView TokenVerifier::publicKeyAlgorithm() const
{
    switch (m_publicAlg) {
    case PublicAlg::RS256: return "RS256"_L1;
    case PublicAlg::ES256: return "ES256"_L1;
    case PublicAlg::None: break;
    }
    return {};
}

TokenVerifier::Created TokenVerifier::create(const TokenConfig &config)
{
    Created out;
    std::unique_ptr<TokenVerifier> v(new TokenVerifier);

    if (config.hs256Secret.isEmpty() && config.publicKeyFile.isEmpty()) {
        out.error = u"no token key configured: set an HS256 secret or a public key file"_s;
        return out;
    }
    if (!config.hs256Secret.isEmpty() && config.hs256Secret.size() < kMinSecretBytes) {
        out.error = u"the HS256 secret is %1 bytes; at least %2 are required"_s.arg(config.hs256Secret.size())
                        .arg(kMinSecretBytes);
        return out;
    }
    if (config.leewaySeconds < 0 || config.leewaySeconds > kMaxLeewaySeconds) {
        out.error = u"token leeway must be between 0 and %1 seconds"_s.arg(kMaxLeewaySeconds);
        return out;
    }
    v->m_secret = config.hs256Secret;
    v->m_issuer = config.issuer;
    v->m_audience = config.audience;
    v->m_leewaySeconds = config.leewaySeconds;
    v->m_extraRoles = config.extraRoles;

    if (!config.publicKeyFile.isEmpty()) {
        QFile file(config.publicKeyFile);
        if (!file.open(QIODevice::ReadOnly)) {
            out.error = u"cannot read public key file '%1': %2"_s.arg(config.publicKeyFile, file.errorString());
            return out;
        }
        const QByteArray pem = file.read(64 * 1024);
        if (pem.contains("PRIVATE KEY")) {
            out.error = u"public key file '%1' holds a private key; give the server the public key only"_s.arg(
                config.publicKeyFile);
            return out;
        }
        std::unique_ptr<BIO, BioDeleter> in(BIO_new_mem_buf(pem.constData(), int(pem.size())));
        std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
            in ? PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr) : nullptr);
        if (!key) {
            out.error = u"public key file '%1' is not a PEM public key (-----BEGIN PUBLIC KEY-----)"_s.arg(
                config.publicKeyFile);
            return out;
        }
        const int type = EVP_PKEY_get_base_id(key.get());
        if (type == EVP_PKEY_RSA) {
            if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
                out.error = u"RSA key in '%1' has %2 bits; at least %3 are required"_s.arg(config.publicKeyFile)
                                .arg(EVP_PKEY_get_bits(key.get()))
                                .arg(kMinRsaBits);
                return out;
            }
            v->m_publicAlg = PublicAlg::RS256;
        } else if (type == EVP_PKEY_EC) {
            char group[64] = {};
            size_t len = 0;
            if (!EVP_PKEY_get_group_name(key.get(), group, sizeof group, &len)
                || qstrcmp(group, "prime256v1") != 0) {
                out.error = u"EC key in '%1' is not on curve P-256 (ES256 needs prime256v1)"_s.arg(
                    config.publicKeyFile);
                return out;
            }
            v->m_publicAlg = PublicAlg::ES256;
        } else {
            out.error = u"public key in '%1' is neither RSA nor EC P-256"_s.arg(config.publicKeyFile);
            return out;
        }
        // Hand libjwt the key re-encoded from what was validated, not the file.
        std::unique_ptr<BIO, BioDeleter> mem(BIO_new(BIO_s_mem()));
        if (!mem || !PEM_write_bio_PUBKEY(mem.get(), key.get())) {
            out.error = u"cannot re-encode the public key from '%1'"_s.arg(config.publicKeyFile);
            return out;
        }
        char *data = nullptr;
        const long n = BIO_get_mem_data(mem.get(), &data);
        v->m_publicKeyPem = QByteArray(data, qsizetype(n));
    }
    out.verifier = std::move(v);
    return out;
}

TokenResult TokenVerifier::verify(QByteArrayView token) const
{
    return verifyAt(token, QDateTime::currentDateTimeUtc());
}

TokenResult TokenVerifier::verifyAt(QByteArrayView token, const QDateTime &now) const
{
    if (token.size() > kMaxTokenSize)
        return TokenError::TooLarge;

    // Compact serialisation: three base64url segments. Checking the alphabet
    // first also keeps NULs and whitespace away from libjwt's C strings.
    qsizetype dots[2] = {-1, -1};
    int dotCount = 0;
    for (qsizetype i = 0; i < token.size(); ++i) {
        const char c = token[i];
        if (c == '.') {
            if (dotCount == 2)
                return TokenError::Malformed;
            dots[dotCount++] = i;
        } else if (!isBase64UrlChar(c)) {
            return TokenError::Malformed;
        }
    }
    if (dotCount != 2)
        return TokenError::Malformed;
    const QByteArrayView headSeg = token.first(dots[0]);
    const QByteArrayView bodySeg = token.sliced(dots[0] + 1, dots[1] - dots[0] - 1);
    const QByteArrayView sigSeg = token.sliced(dots[1] + 1);

    const auto header = decodeJsonSegment(headSeg);
    if (!header)
        return TokenError::Malformed;
    const QJsonValue algValue = header->value("alg"_L1);
    if (!algValue.isString())
        return TokenError::Malformed;
    const QJsonValue typ = header->value("typ"_L1);
    if (!typ.isUndefined() && (!typ.isString() || typ.toString().compare("JWT"_L1, Qt::CaseInsensitive) != 0))
        return TokenError::Malformed;
    // No JWS extensions are understood, so a token that makes one critical
    // cannot be honoured (RFC 7515 4.1.11).
    if (header->contains("crit"_L1))
        return TokenError::Malformed;

    // The configuration, not the token, decides the algorithm and its key.
    const QString alg = algValue.toString();
    QByteArrayView key;
    jwt_alg_t expectedAlg = JWT_ALG_INVAL;
    if (alg == "HS256"_L1 && !m_secret.isEmpty()) {
        key = m_secret;
        expectedAlg = JWT_ALG_HS256;
    } else if (alg == "RS256"_L1 && m_publicAlg == PublicAlg::RS256) {
        key = m_publicKeyPem;
        expectedAlg = JWT_ALG_RS256;
    } else if (alg == "ES256"_L1 && m_publicAlg == PublicAlg::ES256) {
        key = m_publicKeyPem;
        expectedAlg = JWT_ALG_ES256;
    } else {
        return TokenError::AlgorithmNotAllowed;
    }
    if (sigSeg.isEmpty())
        return TokenError::BadSignature;

    const auto claims = decodeJsonSegment(bodySeg);
    if (!claims)
        return TokenError::Malformed;

    {
        const QByteArray terminated = token.toByteArray(); // libjwt wants a C string
        jwt_t *raw = nullptr;
        const int rc = jwt_decode(&raw, terminated.constData(),
                                  reinterpret_cast<const unsigned char *>(key.data()), int(key.size()));
        std::unique_ptr<jwt_t, JwtDeleter> decoded(raw);
        if (rc != 0 || !decoded || jwt_get_alg(decoded.get()) != expectedAlg)
            return TokenError::BadSignature;
    }

    const qint64 nowSecs = now.toSecsSinceEpoch();

    VerifiedIdentity id;
    const QJsonValue exp = claims->value("exp"_L1);
    if (exp.isUndefined())
        return TokenError::MissingClaim;
    const auto expSecs = numericDate(exp);
    if (!expSecs)
        return TokenError::InvalidClaim;
    if (nowSecs > *expSecs + m_leewaySeconds)
        return TokenError::Expired;
    id.expiresAt = QDateTime::fromSecsSinceEpoch(*expSecs, Qt::UTC);

    const QJsonValue nbf = claims->value("nbf"_L1);
    if (!nbf.isUndefined()) {
        const auto nbfSecs = numericDate(nbf);
        if (!nbfSecs)
            return TokenError::InvalidClaim;
        if (nowSecs + m_leewaySeconds < *nbfSecs)
            return TokenError::NotYetValid;
        id.notBefore = QDateTime::fromSecsSinceEpoch(*nbfSecs, Qt::UTC);
    }

    if (!m_issuer.isEmpty()) {
        const QJsonValue iss = claims->value("iss"_L1);
        if (iss.isUndefined())
            return TokenError::MissingClaim;
        if (!iss.isString() || iss.toString() != m_issuer)
            return TokenError::WrongIssuer;
    }

    if (!m_audience.isEmpty()) {
        const QJsonValue aud = claims->value("aud"_L1);
        if (aud.isUndefined())
            return TokenError::MissingClaim;
        bool found = false;
        if (aud.isString()) {
            found = aud.toString() == m_audience;
        } else if (aud.isArray()) {
            const QJsonArray list = aud.toArray();
            for (const QJsonValue &a : list) {
                if (a.isString() && a.toString() == m_audience) {
                    found = true;
                    break;
                }
            }
        }
        if (!found)
            return TokenError::WrongAudience;
    }

    const QJsonValue sub = claims->value("sub"_L1);
    if (sub.isUndefined() || sub.isNull())
        return TokenError::MissingClaim;
    if (sub.isString()) {
        id.userId = sub.toString();
        if (!isValidId(id.userId))
            return TokenError::InvalidClaim;
    } else if (const auto n = wholeNumber(sub)) {
        id.userId = QString::number(*n);
    } else {
        return TokenError::InvalidClaim;
    }

    const QJsonValue role = claims->value("role"_L1);
    if (role.isUndefined() || role.isNull())
        return TokenError::MissingClaim;
    if (!role.isString() || !(isBuiltInRole(role.toString()) || m_extraRoles.contains(role.toString())))
        return TokenError::InvalidClaim;
    id.role = role.toString();

    const QJsonValue name = claims->value("name"_L1);
    if (!name.isUndefined() && !name.isNull()) {
        if (!name.isString() || name.toString().size() > kMaxIdChars)
            return TokenError::InvalidClaim;
        id.name = name.toString();
    }

    const QJsonValue rooms = claims->value("rooms"_L1);
    if (!rooms.isUndefined() && !rooms.isNull()) {
        if (!rooms.isArray() || rooms.toArray().size() > kMaxListEntries)
            return TokenError::InvalidClaim;
        const QJsonArray list = rooms.toArray();
        for (const QJsonValue &r : list) {
            if (!r.isString() || !isValidId(r.toString()))
                return TokenError::InvalidClaim;
            id.rooms.append(r.toString());
        }
    }

    const QJsonValue appointments = claims->value("appointments"_L1);
    if (!appointments.isUndefined() && !appointments.isNull()) {
        if (!appointments.isArray() || appointments.toArray().size() > kMaxListEntries)
            return TokenError::InvalidClaim;
        const QJsonArray list = appointments.toArray();
        for (const QJsonValue &a : list) {
            std::optional<qint64> n = wholeNumber(a);
            if (!n && a.isString()) {
                bool ok = false;
                const qint64 parsed = a.toString().toLongLong(&ok);
                // Digits only: no sign, blanks or leading '+' that toLongLong would take.
                if (ok && !a.toString().isEmpty() && a.toString().front().isDigit()
                    && QString::number(parsed) == a.toString())
                    n = parsed;
            }
            if (!n)
                return TokenError::InvalidClaim;
            id.appointments.append(*n);
        }
    }
    return id;
}

bool grants(const VerifiedIdentity &identity, const QString &roomId, qint64 appointmentId)
{
    return (!roomId.isEmpty() && identity.rooms.contains(roomId))
        || identity.appointments.contains(appointmentId);
}

} // namespace medrelay::security
