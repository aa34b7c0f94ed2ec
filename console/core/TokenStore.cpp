#include "core/TokenStore.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSettings>

namespace medrelay::console {

using namespace Qt::StringLiterals;

namespace {
const QString kGroup = u"tokens/"_s;
} // namespace

TokenStore::TokenStore(QString fileName)
    : m_fileName(std::move(fileName)), m_settings(std::make_unique<QSettings>(m_fileName, QSettings::IniFormat))
{
    // A file left readable by an older version, or by hand, is closed up at once.
    if (QFile::exists(m_fileName))
        (void)makePrivate();
}

TokenStore::~TokenStore() = default;

std::optional<QString> TokenStore::token(const QString &key) const
{
    if (!m_settings->contains(kGroup + key))
        return std::nullopt;
    return m_settings->value(kGroup + key).toString();
}

QStringList TokenStore::keys() const
{
    QStringList out;
    for (const QString &k : m_settings->allKeys()) {
        if (k.startsWith(kGroup))
            out.append(k.mid(kGroup.size()));
    }
    return out;
}

bool TokenStore::makePrivate()
{
    const QFileInfo info(m_fileName);
    if (!QDir().mkpath(info.absolutePath()))
        return false;
    QFile file(m_fileName);
    if (!file.exists()) {
        // Created with the final mode, so the file is never readable by others, not even for a moment.
        if (!file.open(QIODevice::WriteOnly, kFileMode))
            return false;
        file.close();
    }
    // QSettings rewrites the file through QSaveFile, which keeps the mode of the file it replaces.
    return file.setPermissions(kFileMode);
}

bool TokenStore::setToken(const QString &key, const QString &token)
{
    if (!makePrivate())
        return false;
    m_settings->setValue(kGroup + key, token);
    sync();
    return true;
}

void TokenStore::remove(const QString &key)
{
    if (!m_settings->contains(kGroup + key))
        return;
    m_settings->remove(kGroup + key);
    sync();
    if (m_settings->allKeys().isEmpty())
        QFile::remove(m_fileName);
}

void TokenStore::sync()
{
    m_settings->sync();
}

} // namespace medrelay::console
