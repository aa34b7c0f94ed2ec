#include "security/AuditVerifier.h"

#include "security/AuditFiles.h"
#include "security/AuditKeyFile.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QTextStream>

#include <algorithm>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

// `key=value` from a record's detail.
QString detailValue(const QString &detail, QStringView key)
{
    for (const QString &part : detail.split(u' ', Qt::SkipEmptyParts)) {
        if (part.size() > key.size() && part.startsWith(key) && part.at(key.size()) == u'=')
            return part.mid(key.size() + 1);
    }
    return {};
}

QString missingStart(qint64 firstSeq)
{
    return u"the first record present is %1: records 1 to %2 are missing, and no files_deleted record accounts "
           "for them"_s.arg(firstSeq)
        .arg(firstSeq - 1);
}

} // namespace

AuditVerifyResult verifyAuditFiles(const QStringList &files, const AuditVerifyOptions &options)
{
    using Outcome = AuditVerifyResult::Outcome;
    AuditVerifyResult r;

    // Order the files by their first record; empty files hold nothing to check.
    struct Ordered
    {
        QString path;
        qint64 firstSeq = 0;
    };
    QList<Ordered> ordered;
    for (const QString &path : files) {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) {
            r.reason = u"cannot read %1: %2"_s.arg(path, f.errorString());
            return r;
        }
        f.close();
        const QByteArray first = AuditFiles::readFirstLine(path);
        if (first.isEmpty())
            continue;
        const AuditRecord::Checked c = AuditRecord::check(first, nullptr);
        if (!c.ok) {
            r.outcome = Outcome::Broken;
            r.badFile = path;
            r.badLine = 1;
            r.reason = c.reason;
            return r;
        }
        ordered.append({path, c.seq});
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const Ordered &a, const Ordered &b) { return a.firstSeq < b.firstSeq; });

    QHash<qint64, QByteArray> checkpointLines; // seq -> line hash found there
    for (const AuditCheckpoint &cp : options.checkpoints)
        checkpointLines.insert(cp.seq, {});
    QHash<qint64, QByteArray> deletedUpTo; // files_deleted: last seq -> its line hash
    qint64 expected = 0;
    QByteArray prevHash;
    QByteArray startPrev;

    for (const Ordered &file : ordered) {
        QFile f(file.path);
        if (!f.open(QIODevice::ReadOnly)) {
            r.reason = u"cannot read %1: %2"_s.arg(file.path, f.errorString());
            return r;
        }
        qint64 lineNo = 0;
        while (!f.atEnd()) {
            ++lineNo;
            QByteArray line = f.readLine(AuditRecord::kMaxLineBytes + 1);
            const auto fail = [&](const QString &why) {
                r.outcome = Outcome::Broken;
                r.badFile = file.path;
                r.badLine = lineNo;
                r.reason = why;
                // A missing start not yet accounted for comes first.
                if (r.firstSeq > 1 && !deletedUpTo.contains(r.firstSeq - 1)) {
                    r.badFile = ordered.constFirst().path;
                    r.badLine = 1;
                    r.reason = missingStart(r.firstSeq);
                }
                return r;
            };
            if (!line.endsWith('\n'))
                return fail(line.size() > AuditRecord::kMaxLineBytes ? u"line too long"_s
                                                                     : u"incomplete last record"_s);
            line.chop(1);
            const AuditRecord::Checked c = AuditRecord::check(line, &options.keys);
            if (c.keyMissing) {
                r.outcome = Outcome::Unreadable;
                r.badFile = file.path;
                r.badLine = lineNo;
                r.reason = u"record %1 is signed with key %2; give that key with --audit-key-file"_s.arg(c.seq).arg(
                    QString::fromLatin1(c.kid));
                return r;
            }
            if (!c.ok)
                return fail(c.reason);
            if (expected == 0) {
                r.firstSeq = c.seq;
                startPrev = c.prev;
                if (c.seq == 1 && c.prev != AuditRecord::kZeroHash)
                    return fail(u"the first record does not start a chain"_s);
            } else {
                if (c.seq != expected) {
                    if (lineNo == 1 && c.seq > expected)
                        return fail(u"this file starts at record %1 but the one before ends at record %2: a file "
                                    "holding records %3 to %4 is missing"_s.arg(c.seq)
                                        .arg(expected - 1)
                                        .arg(expected)
                                        .arg(c.seq - 1));
                    return fail(u"seq is %1, expected %2 (record missing or out of order)"_s.arg(c.seq).arg(expected));
                }
                if (c.prev != prevHash)
                    return fail(lineNo == 1 ? u"prev does not match the last record of the file before"_s
                                            : u"prev does not match the previous record"_s);
            }
            if (!c.kid.isEmpty()) {
                if (r.firstSignedSeq == 0)
                    r.firstSignedSeq = c.seq;
                if (!r.keyIds.contains(c.kid))
                    r.keyIds.append(c.kid);
            } else if (r.firstSignedSeq != 0) {
                return fail(u"an unsigned record after signed ones (the chain was rewritten?)"_s);
            }
            if (c.event == auditEventName(AuditEvent::FilesDeleted)) {
                bool ok = false;
                const qint64 lastSeq = detailValue(c.detail, u"last_seq").toLongLong(&ok);
                if (ok)
                    deletedUpTo.insert(lastSeq, detailValue(c.detail, u"last_line").toLatin1());
            }
            prevHash = AuditRecord::lineHash(line);
            if (checkpointLines.contains(c.seq))
                checkpointLines.insert(c.seq, prevHash);
            expected = c.seq + 1;
            ++r.records;
        }
        ++r.files;
    }
    r.lastSeq = expected > 0 ? expected - 1 : 0;
    r.lastLineHash = prevHash;

    const auto broken = [&r](const QString &why) {
        r.outcome = Outcome::Broken;
        r.reason = why;
        return r;
    };
    if (r.firstSeq > 1) {
        if (deletedUpTo.value(r.firstSeq - 1) != startPrev) {
            r.badFile = ordered.constFirst().path;
            r.badLine = 1;
            r.records = 0;
            return broken(missingStart(r.firstSeq));
        }
        r.startRemovedByRetention = true;
    }
    for (const AuditCheckpoint &cp : options.checkpoints) {
        switch (cp.checkMac(options.keys)) {
        case AuditCheckpoint::Mac::KeyMissing:
            r.outcome = Outcome::Unreadable;
            r.reason = u"the checkpoint of %1 is signed with key %2; give that key with --audit-key-file"_s.arg(
                cp.ts, QString::fromLatin1(cp.kid));
            return r;
        case AuditCheckpoint::Mac::Invalid:
            return broken(u"the checkpoint of %1 does not verify (forged, or signed with another key)"_s.arg(cp.ts));
        case AuditCheckpoint::Mac::Valid:
            break;
        }
        if (cp.seq > r.lastSeq)
            return broken(u"the log ends at record %1, but the checkpoint of %2 names record %3: records were "
                          "removed from its end, or its newest file is missing"_s.arg(r.lastSeq)
                              .arg(cp.ts)
                              .arg(cp.seq));
        if (cp.seq < r.firstSeq)
            continue; // older than the files given
        if (checkpointLines.value(cp.seq) != cp.line)
            return broken(u"record %1 is not the one the checkpoint of %2 names"_s.arg(cp.seq).arg(cp.ts));
        ++r.checkpointsMatched;
    }
    // With a key in hand the log is expected to be signed and checkpointed:
    // a chain rewritten unsigned with its checkpoint deleted is not intact.
    if (options.checkpointMissing && (r.firstSignedSeq != 0 || !options.keys.isEmpty()))
        return broken(u"no checkpoint (%1) beside the log: records removed from its end could not be found"_s.arg(
            AuditFiles::kCheckpoint));
    r.outcome = Outcome::Intact;
    return r;
}

int runVerifyAuditCommand(const QStringList &paths, const QStringList &keyFiles, const QStringList &checkpointFiles,
                          QTextStream &out)
{
    const QString label = paths.join(u' ');
    const auto unreadable = [&](const QString &why) {
        out << "audit log " << label << ": " << why << Qt::endl;
        return 2;
    };

    QStringList files;
    QString logDir;
    bool withActive = false;
    for (const QString &p : paths) {
        const QFileInfo fi(p);
        if (fi.isDir()) {
            files += AuditFiles::chainFiles(p);
            logDir = fi.absoluteFilePath();
            withActive = true;
        } else if (fi.isFile() && fi.isReadable()) {
            files += p;
            if (logDir.isEmpty())
                logDir = fi.absolutePath();
            withActive = withActive || fi.fileName() == AuditFiles::kActive;
        } else {
            return unreadable(u"cannot read file %1"_s.arg(p));
        }
    }
    if (files.isEmpty())
        return unreadable(u"no audit files (%1, audit-*.jsonl)"_s.arg(AuditFiles::kActive));

    AuditVerifyOptions options;
    QStringList keyPaths = keyFiles;
    const QString besideKey = QDir(logDir).filePath(AuditFiles::kKey);
    if (keyPaths.isEmpty() && QFileInfo(besideKey).isReadable())
        keyPaths.append(besideKey);
    for (const QString &k : keyPaths) {
        // An auditor's copy of the key only verifies: its mode is not checked.
        const AuditKeyFileResult key = loadAuditKeyFile(k, false);
        if (!key.key)
            return unreadable(key.error);
        options.keys.insert(key.key->id, key.key->secret);
    }

    if (withActive) {
        const QString cpPath = QDir(logDir).filePath(AuditFiles::kCheckpoint);
        QFile cpFile(cpPath);
        if (cpFile.exists()) {
            if (!cpFile.open(QIODevice::ReadOnly))
                return unreadable(u"cannot read %1"_s.arg(cpPath));
            const auto cp = AuditCheckpoint::parse(cpFile.readAll());
            if (!cp) {
                out << "audit log " << label << ": BROKEN: " << cpPath << " is not a checkpoint" << Qt::endl;
                return 1;
            }
            options.checkpoints.append(*cp);
        } else {
            options.checkpointMissing = true;
        }
    }
    for (const QString &c : checkpointFiles) {
        QFile f(c);
        if (!f.open(QIODevice::ReadOnly))
            return unreadable(u"cannot read checkpoint file %1"_s.arg(c));
        int found = 0;
        while (!f.atEnd()) {
            if (const auto cp = AuditCheckpoint::parse(f.readLine(8192))) {
                options.checkpoints.append(*cp);
                ++found;
            }
        }
        if (found == 0)
            return unreadable(u"no checkpoint in %1"_s.arg(c));
    }

    const AuditVerifyResult r = verifyAuditFiles(files, options);
    switch (r.outcome) {
    case AuditVerifyResult::Outcome::Unreadable:
        return unreadable(r.badFile.isEmpty() ? r.reason
                                              : u"%1 (line %2 of %3)"_s.arg(r.reason).arg(r.badLine).arg(r.badFile));
    case AuditVerifyResult::Outcome::Broken:
        out << "audit log " << label << ": BROKEN";
        if (!r.badFile.isEmpty())
            out << " at line " << r.badLine << " of " << r.badFile;
        out << ": " << r.reason << " (" << r.records << " records intact before it)" << Qt::endl;
        return 1;
    case AuditVerifyResult::Outcome::Intact:
        break;
    }
    out << "audit log " << label << ": OK, " << r.records << " records";
    if (r.records > 0) {
        out << " in " << r.files << (r.files == 1 ? " file" : " files") << " (seq " << r.firstSeq << '-' << r.lastSeq
            << ')';
        if (r.startRemovedByRetention)
            out << ", records before " << r.firstSeq << " deleted by the retention policy";
        if (r.firstSignedSeq == 0)
            out << ", unsigned (SHA-256 chain only: anyone able to write the files could have rewritten them)";
        else
            out << ", signed (HMAC-SHA256, key " << r.keyIds.join(',') << ") from seq " << r.firstSignedSeq;
        out << ", " << r.checkpointsMatched << (r.checkpointsMatched == 1 ? " checkpoint" : " checkpoints")
            << " matched";
    }
    out << ", last line sha256 " << (r.lastLineHash.isEmpty() ? QByteArray("-") : r.lastLineHash) << Qt::endl;
    return 0;
}

} // namespace medrelay::security
