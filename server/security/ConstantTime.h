#pragma once
// Comparison of secrets (the admin bearer token) whose running time does not
// depend on where, or whether, the inputs differ. Both sides are hashed with
// SHA-256 first, so inputs of different lengths are compared as two 32-byte
// digests as well: the time depends only on the lengths of the inputs, and the
// length of the configured secret is the same for every request.

#include <QByteArray>
#include <QByteArrayView>
#include <QCryptographicHash>

namespace medrelay::security {

[[nodiscard]] inline bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    const QByteArray da = QCryptographicHash::hash(a, QCryptographicHash::Sha256);
    const QByteArray db = QCryptographicHash::hash(b, QCryptographicHash::Sha256);
    // volatile keeps the compiler from turning the loop into an early-exit memcmp.
    volatile unsigned char diff = 0;
    for (qsizetype i = 0; i < da.size(); ++i)
        diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(da[i]) ^ static_cast<unsigned char>(db[i])));
    return diff == 0;
}

} // namespace medrelay::security
