#include "security/AuditCheckpoint.h"

#include "security/AuditFiles.h"
#include "security/ConstantTime.h"

#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

#include <unistd.h>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

QJsonObject unsignedObject(const AuditCheckpoint &c)
{
    return {{u"seq"_s, c.seq},
            {u"line"_s, QString::fromLatin1(c.line)},
            {u"ts"_s, c.ts},
            {u"kid"_s, QString::fromLatin1(c.kid)}};
}

QByteArray macOf(const AuditCheckpoint &c, const QByteArray &secret)
{
    return AuditRecord::hmacHex(secret, QJsonDocument(unsignedObject(c)).toJson(QJsonDocument::Compact));
}

} // namespace

AuditCheckpoint AuditCheckpoint::make(qint64 seq, const QByteArray &line, const AuditKey &key)
{
    AuditCheckpoint c;
    c.seq = seq;
    c.line = line;
    c.ts = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    c.kid = key.id;
    c.mac = macOf(c, key.secret);
    return c;
}

QByteArray AuditCheckpoint::toJson() const
{
    QJsonObject o = unsignedObject(*this);
    o.insert(u"mac"_s, QString::fromLatin1(mac));
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

std::optional<AuditCheckpoint> AuditCheckpoint::parse(QByteArrayView text)
{
    const qsizetype brace = text.indexOf('{');
    if (brace < 0 || text.size() - brace > 4096)
        return std::nullopt;
    const QJsonDocument doc = QJsonDocument::fromJson(text.sliced(brace).toByteArray().trimmed());
    if (!doc.isObject())
        return std::nullopt;
    const QJsonObject o = doc.object();
    if (o.size() != 5 || !o.value("seq"_L1).isDouble() || !o.value("line"_L1).isString()
        || !o.value("ts"_L1).isString() || !o.value("kid"_L1).isString() || !o.value("mac"_L1).isString())
        return std::nullopt;
    AuditCheckpoint c;
    c.seq = o.value("seq"_L1).toInteger(-1);
    c.line = o.value("line"_L1).toString().toLatin1();
    c.ts = o.value("ts"_L1).toString();
    c.kid = o.value("kid"_L1).toString().toLatin1();
    c.mac = o.value("mac"_L1).toString().toLatin1();
    if (c.seq < 0 || c.line.size() != 64 || c.mac.size() != 64 || c.kid.size() != 16)
        return std::nullopt;
    return c;
}

AuditCheckpoint::Mac AuditCheckpoint::checkMac(const AuditKeyRing &keys) const
{
    const auto secret = keys.constFind(kid);
    if (secret == keys.cend())
        return Mac::KeyMissing;
    return constantTimeEquals(macOf(*this, *secret), mac) ? Mac::Valid : Mac::Invalid;
}

bool writeCheckpointFile(const QString &path, const QByteArray &json, QString *error)
{
    const QString tmp = path + ".tmp"_L1;
    QFile f(tmp);
    const QByteArray bytes = json + '\n';
    bool ok = f.open(QIODevice::WriteOnly | QIODevice::Truncate);
    if (ok) {
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner);
        ok = f.write(bytes) == bytes.size() && f.flush() && ::fdatasync(f.handle()) == 0;
    }
    if (!ok) {
        if (error)
            *error = u"cannot write audit checkpoint '%1': %2"_s.arg(tmp, f.errorString());
        f.close();
        QFile::remove(tmp);
        return false;
    }
    f.close();
    if (::rename(QFile::encodeName(tmp).constData(), QFile::encodeName(path).constData()) != 0) {
        if (error)
            *error = u"cannot replace audit checkpoint '%1'"_s.arg(path);
        QFile::remove(tmp);
        return false;
    }
    AuditFiles::fsyncDirectory(QFileInfo(path).absolutePath());
    return true;
}

} // namespace medrelay::security
