#pragma once
// Where the audit trail lives on disk: the active file, the rotated files
// (named by the time and sequence number of their last record), the
// checkpoint and the generated key, and the small file operations the writer
// and the verifier share (reading a file's first and last lines, syncing a
// directory).

#include <QByteArray>
#include <QDateTime>
#include <QLatin1StringView>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace medrelay::security::AuditFiles {

inline constexpr QLatin1StringView kActive{"audit.jsonl"};
inline constexpr QLatin1StringView kCheckpoint{"audit.checkpoint"};
inline constexpr QLatin1StringView kKey{"audit.key"};

// audit-<yyyyMMddTHHmmssZ of the last record>-<last seq>.jsonl
[[nodiscard]] QString rotatedName(const QDateTime &lastRecordTime, quint64 lastSeq);

struct Rotated
{
    QString path;
    QDateTime lastRecordTime; // UTC
    quint64 lastSeq = 0;
};
[[nodiscard]] std::optional<Rotated> parseRotated(const QString &path);
// The rotated files in `dir`, oldest (lowest last seq) first.
[[nodiscard]] QList<Rotated> rotatedFiles(const QString &dir);
// Every file of the chain in `dir`: the rotated ones in order, then the
// active file when it exists.
[[nodiscard]] QStringList chainFiles(const QString &dir);

// The last complete lines of a file (read from its end only).
struct Tail
{
    bool readable = false;
    bool endsWithNewline = true; // false: the last record is torn
    QByteArray last;             // empty when the file is empty
    QByteArray beforeLast;       // empty when the file holds one record
};
[[nodiscard]] Tail readTail(const QString &path);
[[nodiscard]] QByteArray readFirstLine(const QString &path);

bool fsyncDirectory(const QString &dir);

} // namespace medrelay::security::AuditFiles
