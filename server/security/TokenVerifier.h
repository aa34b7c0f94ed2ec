#pragma once
// Verifies the signed access tokens (JWT) that clients present on /ws, and
// turns a valid one into a VerifiedIdentity: who the user is, which role they
// have and which rooms or appointments they may join. The key is loaded once;
// verify() is const and may be called from any thread at the same time.
//
// The token's own "alg" header is never trusted to pick the key: each
// configured key allows exactly one algorithm (HS256 for the shared secret,
// RS256 or ES256 for the public key, by its type), and everything else is
// refused before a signature is checked.

#include <QByteArray>
#include <QByteArrayView>
#include <QDateTime>
#include <QLatin1StringView>
#include <QList>
#include <QString>
#include <QStringList>

#include <memory>
#include <variant>

namespace medrelay::security {

struct TokenConfig
{
    QByteArray hs256Secret;  // at least 32 bytes; empty = HS256 off
    QString publicKeyFile;   // PEM "PUBLIC KEY" (RSA -> RS256, EC P-256 -> ES256); empty = off
    QString issuer;          // required "iss" when not empty
    QString audience;        // required in "aud" (string or array) when not empty
    int leewaySeconds = 30;  // clock skew allowed on exp and nbf
    // Roles accepted in the `role` claim besides the built-in ones (patient,
    // caregiver, observer, clinician, doctor, nurse, admin): for example a
    // clinic's own host roles.
    QStringList extraRoles;
};

enum class TokenError : quint8 {
    Malformed,
    BadSignature,
    AlgorithmNotAllowed,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
    InvalidClaim,
    TooLarge,
};

// Stable snake_case name ("bad_signature", ...) for error replies, audit
// details and metric labels.
[[nodiscard]] QLatin1StringView reasonName(TokenError error);

struct VerifiedIdentity
{
    QString userId;             // "sub"; a numeric sub becomes its decimal text
    QString name;               // "name", may be empty
    QString role;               // clinician | patient | observer | admin
    QStringList rooms;          // "rooms": room ids this token may join
    QList<qint64> appointments; // "appointments": appointment ids this token may join
    QDateTime expiresAt;        // "exp", UTC
    QDateTime notBefore;        // "nbf", UTC; invalid when the token has none
};

// Either the identity or why the token was refused.
class TokenResult final
{
public:
    TokenResult(VerifiedIdentity identity) : m_v(std::move(identity)) {} // NOLINT(google-explicit-constructor)
    TokenResult(TokenError error) : m_v(error) {}                         // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const { return std::holds_alternative<VerifiedIdentity>(m_v); }
    [[nodiscard]] const VerifiedIdentity &identity() const { return std::get<VerifiedIdentity>(m_v); }
    [[nodiscard]] TokenError error() const { return std::get<TokenError>(m_v); }

private:
    std::variant<VerifiedIdentity, TokenError> m_v;
};

class TokenVerifier final
{
public:
    // Tokens longer than this are refused unread (TooLarge).
    static constexpr qsizetype kMaxTokenSize = 8 * 1024;

    // What create() gives back: a verifier, or a message naming the problem
    // with the configuration (unreadable key file, not a public key, short
    // secret, ...). The message never contains key material.
    struct Created
    {
        std::unique_ptr<const TokenVerifier> verifier;
        QString error;
    };

    [[nodiscard]] static Created create(const TokenConfig &config);

    ~TokenVerifier();
    Q_DISABLE_COPY_MOVE(TokenVerifier)

    [[nodiscard]] TokenResult verify(QByteArrayView token) const;
    // As verify(), with the clock given (tests, replay of recorded tokens).
    [[nodiscard]] TokenResult verifyAt(QByteArrayView token, const QDateTime &now) const;

    [[nodiscard]] bool acceptsHs256() const { return !m_secret.isEmpty(); }
    // "RS256", "ES256" or empty when no public key is configured.
    [[nodiscard]] QLatin1StringView publicKeyAlgorithm() const;

private:
    enum class PublicAlg : quint8 { None, RS256, ES256 };
    TokenVerifier() = default;

    QByteArray m_secret;
    QByteArray m_publicKeyPem;
    PublicAlg m_publicAlg = PublicAlg::None;
    QString m_issuer;
    QString m_audience;
    qint64 m_leewaySeconds = 30;
    QStringList m_extraRoles;
};

// Whether the identity may join this room for this appointment: the room id is
// in "rooms" or the appointment id is in "appointments". No role, admin
// included, grants rooms implicitly.
[[nodiscard]] bool grants(const VerifiedIdentity &identity, const QString &roomId, qint64 appointmentId);

} // namespace medrelay::security
