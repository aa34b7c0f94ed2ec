#pragma once
// The strip across the top of the main window: connection state (with the
// reason when something is wrong) and the server's headline figures: version,
// uptime, connections, rooms, messages per second, memory.

#include "adminapi/AdminTypes.h"
#include "core/AdminClient.h"

#include <QFrame>

class QLabel;

namespace medrelay::console {

class StatusHeader final : public QFrame
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StatusHeader)

public:
    explicit StatusHeader(QWidget *parent = nullptr);

    void setServer(const QUrl &url);
    void setState(AdminClient::State state, const QString &reason);
    void setRetryIn(std::chrono::milliseconds delay);
    void setHealth(const adminapi::Health &health);
    void setStats(const adminapi::Stats &stats);
    void clearFigures();

protected:
    void changeEvent(QEvent *event) override;

private:
    struct Tile
    {
        QLabel *caption = nullptr;
        QLabel *value = nullptr;
    };
    Tile addTile(const QString &caption);
    void updateStateIcon();
    void applyFonts();

    QLabel *m_stateIcon = nullptr;
    QLabel *m_stateText = nullptr;
    QLabel *m_stateDetail = nullptr;
    Tile m_version;
    Tile m_uptime;
    Tile m_connections;
    Tile m_rooms;
    Tile m_messages;
    Tile m_memory;
    QList<Tile> m_tiles;
    AdminClient::State m_state = AdminClient::State::Disconnected;
    QString m_reason;
    QUrl m_server;
};

} // namespace medrelay::console
