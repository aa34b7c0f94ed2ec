#pragma once
// Remembered admin tokens, in a file of their own that only the user can
// read (mode 0600, set before the first token is written), apart from the
// settings file that holds the window layout and recent servers. A token
// opens every admin action of its server, so it never lands in a file other
// local users can read.

#include <QFileDevice>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>

class QSettings;

namespace medrelay::console {

class TokenStore final
{
    Q_DISABLE_COPY_MOVE(TokenStore)

public:
    static constexpr QFileDevice::Permissions kFileMode = QFileDevice::ReadOwner | QFileDevice::WriteOwner;

    explicit TokenStore(QString fileName);
    ~TokenStore();

    [[nodiscard]] std::optional<QString> token(const QString &key) const;
    // False (and nothing written) when the file could not be made private.
    bool setToken(const QString &key, const QString &token);
    // Forgetting the last token deletes the file.
    void remove(const QString &key);
    [[nodiscard]] QStringList keys() const;

    [[nodiscard]] QString fileName() const { return m_fileName; }

private:
    [[nodiscard]] bool makePrivate();
    void sync();

    QString m_fileName;
    std::unique_ptr<QSettings> m_settings;
};

} // namespace medrelay::console
