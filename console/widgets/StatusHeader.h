#pragma once
// The strip across the top of the main window: connection state (with the
// reason when something is wrong) and the server's headline figures: version,
// uptime, connections (of the cap, when the server reports one), rooms,
// messages per second, memory. While the server does not answer, the figures
// are greyed and marked with the time they were last known.

#include "core/ConnectionState.h"
#include "core/ServerFigures.h"

#include <QDateTime>
#include <QFrame>
#include <QUrl>

#include <chrono>

class QLabel;

namespace medrelay::console {

class StatusHeader final : public QFrame
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StatusHeader)

public:
    explicit StatusHeader(QWidget *parent = nullptr);

    void setServer(const QUrl &url);
    // `title` is the state in words ("Connected", "Admin token needed").
    void setState(ConnectionState state, const QString &title, const QString &reason);
    void setRetryIn(std::chrono::milliseconds delay);
    void setFigures(const ServerFigures &figures);
    void clearFigures();
    // Stale: greyed, not bold, "last known at HH:MM:SS".
    void setStale(bool stale, const QDateTime &lastKnown);

    [[nodiscard]] bool isStale() const { return m_stale; }
    [[nodiscard]] QString stateText() const;
    [[nodiscard]] QString detailText() const;
    // The figure under `caption` as shown ("Connections", "Rooms", ...); for tests.
    [[nodiscard]] QLabel *valueLabel(const QString &caption) const;

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
    void updateDetail();
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
    ConnectionState m_state = ConnectionState::Disconnected;
    QString m_reason;
    QString m_retry;
    QUrl m_server;
    QDateTime m_lastKnown;
    bool m_stale = false;
};

} // namespace medrelay::console
