#pragma once
// A signed checkpoint of the audit chain: the sequence number and line hash
// of the last durable record, with an HMAC by the chain's key. The writer keeps
// the newest one beside the log (audit.checkpoint) and sends each one to the
// system log; the verifier checks that the chain still holds the record a
// checkpoint names. Records cut off the end of the log are found this way,
// because nobody without the key can write a checkpoint for the shorter chain.

#include "security/AuditRecord.h"

#include <QByteArray>
#include <QString>

#include <optional>

namespace medrelay::security {

struct AuditCheckpoint
{
    qint64 seq = 0;
    QByteArray line; // hex SHA-256 of record `seq`'s line (what the next record's prev holds)
    QString ts;      // when the checkpoint was written, ISO 8601 UTC
    QByteArray kid;
    QByteArray mac;

    [[nodiscard]] static AuditCheckpoint make(qint64 seq, const QByteArray &line, const AuditKey &key);
    // One line of compact JSON, the form stored and sent to the system log.
    [[nodiscard]] QByteArray toJson() const;
    // Parses a checkpoint; text before the first '{' (a system log prefix)
    // is skipped.
    [[nodiscard]] static std::optional<AuditCheckpoint> parse(QByteArrayView text);

    enum class Mac { Valid, Invalid, KeyMissing };
    [[nodiscard]] Mac checkMac(const AuditKeyRing &keys) const;
};

// Writes `json` to `path` atomically (temporary file, fdatasync, rename).
bool writeCheckpointFile(const QString &path, const QByteArray &json, QString *error);

} // namespace medrelay::security
