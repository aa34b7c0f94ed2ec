#include "security/AuditKeyFile.h"

#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>

#include <array>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMinSecretBytes = 32;
constexpr qint64 kMaxFileBytes = 4096;

bool fsyncPath(const QString &path, int flags)
{
    const int fd = ::open(QFile::encodeName(path).constData(), flags | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

} // namespace

AuditKeyFileResult loadAuditKeyFile(const QString &path, bool checkPermissions)
{
    AuditKeyFileResult r;
    struct stat st{};
    if (::stat(QFile::encodeName(path).constData(), &st) != 0 || !S_ISREG(st.st_mode)) {
        r.error = u"audit key file '%1' does not exist or is not a regular file"_s.arg(path);
        return r;
    }
    if (checkPermissions && (st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
        r.error = u"audit key file '%1' is accessible to other users (mode %2); make it 0600 or 0640 "
                  "(chmod o-rwx,g-w)"_s.arg(path).arg(st.st_mode & 07777, 4, 8, QChar(u'0'));
        return r;
    }
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        r.error = u"cannot read audit key file '%1': %2"_s.arg(path, f.errorString());
        return r;
    }
    const QByteArray content = f.read(kMaxFileBytes + 1);
    if (content.size() > kMaxFileBytes) {
        r.error = u"audit key file '%1' is larger than %2 bytes"_s.arg(path).arg(kMaxFileBytes);
        return r;
    }
    QByteArray secret = content;
    while (!secret.isEmpty() && QChar::isSpace(uchar(secret.back())))
        secret.chop(1);
    if (secret.size() < kMinSecretBytes) {
        r.error = u"audit key file '%1' holds %2 bytes; at least %3 are required (e.g. openssl rand -hex 32)"_s
                      .arg(path)
                      .arg(secret.size())
                      .arg(kMinSecretBytes);
        return r;
    }
    r.key = AuditKey::fromSecret(secret);
    return r;
}

AuditKeyFileResult loadOrCreateAuditKeyFile(const QString &path)
{
    if (QFileInfo::exists(path))
        return loadAuditKeyFile(path);
    AuditKeyFileResult r;
    std::array<quint32, 8> random{};
    QRandomGenerator::system()->fillRange(random.data(), random.size());
    const QByteArray content = QByteArray(reinterpret_cast<const char *>(random.data()), sizeof random).toHex() + '\n';
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        r.error = u"cannot create audit key file '%1': %2"_s.arg(path, QString::fromLocal8Bit(::strerror(errno)));
        return r;
    }
    const bool written = ::write(fd, content.constData(), size_t(content.size())) == content.size() && ::fsync(fd) == 0;
    ::close(fd);
    if (!written) {
        ::unlink(QFile::encodeName(path).constData());
        r.error = u"cannot write audit key file '%1'"_s.arg(path);
        return r;
    }
    fsyncPath(QFileInfo(path).absolutePath(), O_RDONLY | O_DIRECTORY);
    r = loadAuditKeyFile(path);
    r.created = r.key.has_value();
    return r;
}

} // namespace medrelay::security
