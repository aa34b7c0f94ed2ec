#pragma once
// Offline verification of an audit trail (medrelay-server --verify-audit):
// every record's own hash or HMAC, the sequence and the `prev` links across
// all its files in order (a missing file breaks both), the key's use once
// begun, files removed by the retention policy (accounted for by their
// `files_deleted` records), and signed checkpoints (records removed from the
// end). It only reads.

#include "security/AuditCheckpoint.h"
#include "security/AuditRecord.h"

#include <QByteArrayList>
#include <QList>
#include <QString>
#include <QStringList>

class QTextStream;

namespace medrelay::security {

struct AuditVerifyOptions
{
    AuditKeyRing keys;                  // signed records need their key
    QList<AuditCheckpoint> checkpoints; // each must match the chain
    // The files include the active one, and no checkpoint was found beside
    // it: a signed chain is then reported broken (its end is unprotected).
    bool checkpointMissing = false;
};

struct AuditVerifyResult
{
    enum class Outcome : quint8 { Intact, Broken, Unreadable };
    Outcome outcome = Outcome::Unreadable;
    QString reason;         // why, when not intact
    QString badFile;        // the file holding the first bad record, if one is at fault
    qint64 badLine = 0;     // its 1-based line
    qint64 records = 0;     // records checked and found intact
    int files = 0;          // files holding records
    qint64 firstSeq = 0;
    qint64 lastSeq = 0;
    qint64 firstSignedSeq = 0; // 0: no signed records
    QByteArrayList keyIds;     // keys that signed records
    int checkpointsMatched = 0;
    bool startRemovedByRetention = false; // records before firstSeq were deleted by the policy
    QByteArray lastLineHash;   // hex SHA-256 of the last line

    [[nodiscard]] bool ok() const { return outcome == Outcome::Intact; }
};

// Verifies the records of `files`, taken in the order of their first records.
[[nodiscard]] AuditVerifyResult verifyAuditFiles(const QStringList &files, const AuditVerifyOptions &options = {});

// `medrelay-server --verify-audit PATH...`: PATH is a data directory (every
// audit file in it, with its checkpoint and, when no key file is given, its
// audit.key) or audit files. Prints one line and returns the exit code: 0
// intact, 1 broken, 2 unreadable or a needed key missing.
int runVerifyAuditCommand(const QStringList &paths, const QStringList &keyFiles, const QStringList &checkpointFiles,
                          QTextStream &out);

} // namespace medrelay::security
