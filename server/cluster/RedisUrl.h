#pragma once
// Where Redis is: redis://[[user]:password@]host[:port][/db], as given to
// --redis or MEDRELAY_REDIS_URL. The password never appears in what
// redacted() returns, which is the only form logs and errors may show.

#include <QString>

#include <variant>

namespace medrelay::cluster {

struct RedisUrl
{
    QString host;
    quint16 port = 6379;
    int db = 0;
    QString user;     // empty: AUTH with the password alone (requirepass)
    QString password; // empty: no AUTH

    // A refusal names what is wrong and never repeats the password.
    [[nodiscard]] static std::variant<RedisUrl, QString> parse(const QString &text);
    // redis://host:port/db, with ":***@" where a password was given.
    [[nodiscard]] QString redacted() const;
};

} // namespace medrelay::cluster
