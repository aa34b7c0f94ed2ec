#include "widgets/StatusHeader.h"

#include "core/Format.h"

#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QStyle>
#include <QVBoxLayout>

namespace medrelay::console {

using namespace Qt::StringLiterals;

StatusHeader::StatusHeader(QWidget *parent)
    : QFrame(parent)
{
    setFrameShape(QFrame::StyledPanel);
    setAutoFillBackground(true);
    setBackgroundRole(QPalette::Base);

    auto *layout = new QHBoxLayout(this);
    layout->setSpacing(style()->pixelMetric(QStyle::PM_LayoutHorizontalSpacing) * 2);

    auto *stateBox = new QHBoxLayout;
    m_stateIcon = new QLabel(this);
    stateBox->addWidget(m_stateIcon, 0, Qt::AlignTop);
    auto *stateText = new QVBoxLayout;
    stateText->setSpacing(0);
    m_stateText = new QLabel(this);
    m_stateDetail = new QLabel(this);
    m_stateDetail->setForegroundRole(QPalette::PlaceholderText);
    m_stateDetail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_stateDetail->setWordWrap(true);
    // Wraps rather than widening the window: the header must fit half a screen.
    m_stateDetail->setMinimumWidth(fontMetrics().averageCharWidth() * 16);
    m_stateDetail->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    stateText->addWidget(m_stateText);
    stateText->addWidget(m_stateDetail);
    stateText->addStretch();
    stateBox->addLayout(stateText, 1);
    layout->addLayout(stateBox, 3);

    // Two rows of three figures: narrow enough for half a 1920-pixel screen.
    auto *grid = new QGridLayout;
    grid->setHorizontalSpacing(layout->spacing());
    grid->setVerticalSpacing(fontMetrics().height() / 3);
    m_version = addTile(tr("Server version"));
    m_uptime = addTile(tr("Uptime"));
    m_memory = addTile(tr("Memory"));
    m_connections = addTile(tr("Connections"));
    m_rooms = addTile(tr("Rooms"));
    m_messages = addTile(tr("Messages/s in / out"));
    for (int i = 0; i < m_tiles.size(); ++i) {
        auto *box = new QVBoxLayout;
        box->setSpacing(0);
        box->addWidget(m_tiles.at(i).caption);
        box->addWidget(m_tiles.at(i).value);
        grid->addLayout(box, i / 3, i % 3);
    }
    layout->addLayout(grid, 4);
    applyFonts();
    clearFigures();
    setState(ConnectionState::Disconnected, Connection::stateName(ConnectionState::Disconnected), {});
}

StatusHeader::Tile StatusHeader::addTile(const QString &caption)
{
    Tile tile{new QLabel(caption, this), new QLabel(this)};
    tile.caption->setForegroundRole(QPalette::PlaceholderText);
    tile.value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_tiles.append(tile);
    return tile;
}

QLabel *StatusHeader::valueLabel(const QString &caption) const
{
    for (const Tile &tile : m_tiles) {
        if (tile.caption->text() == caption)
            return tile.value;
    }
    return nullptr;
}

void StatusHeader::applyFonts()
{
    QFont big = font();
    big.setPointSizeF(font().pointSizeF() * 1.3);
    big.setBold(!m_stale); // bold reads as live; a stale figure must not
    for (const Tile &tile : std::as_const(m_tiles)) {
        tile.value->setFont(big);
        tile.value->setForegroundRole(m_stale ? QPalette::PlaceholderText : QPalette::WindowText);
    }
    QFont stateFont = font();
    stateFont.setPointSizeF(font().pointSizeF() * 1.3);
    stateFont.setBold(true);
    m_stateText->setFont(stateFont);
    updateStateIcon();
}

void StatusHeader::changeEvent(QEvent *event)
{
    QFrame::changeEvent(event);
    if (event->type() == QEvent::FontChange || event->type() == QEvent::StyleChange)
        applyFonts();
}

void StatusHeader::setServer(const QUrl &url)
{
    m_server = url;
    updateDetail();
}

void StatusHeader::updateStateIcon()
{
    QStyle::StandardPixmap pixmap = QStyle::SP_MessageBoxInformation;
    switch (m_state) {
    case ConnectionState::Connected: pixmap = QStyle::SP_DialogApplyButton; break;
    case ConnectionState::Connecting: pixmap = QStyle::SP_BrowserReload; break;
    case ConnectionState::Draining: pixmap = QStyle::SP_MessageBoxWarning; break;
    case ConnectionState::Unauthorised:
    case ConnectionState::Unreachable: pixmap = QStyle::SP_MessageBoxCritical; break;
    case ConnectionState::Disconnected: pixmap = QStyle::SP_MessageBoxInformation; break;
    }
    const int size = m_stateText->fontMetrics().height() * 2;
    m_stateIcon->setPixmap(style()->standardIcon(pixmap, nullptr, this).pixmap(QSize(size, size), devicePixelRatioF()));
}

void StatusHeader::setState(ConnectionState state, const QString &title, const QString &reason)
{
    m_state = state;
    m_reason = reason;
    m_retry.clear();
    m_stateText->setText(title);
    updateDetail();
    updateStateIcon();
}

void StatusHeader::setRetryIn(std::chrono::milliseconds delay)
{
    if (m_state != ConnectionState::Unreachable)
        return;
    const double seconds = static_cast<double>(delay.count()) / 1000.0;
    m_retry = tr("retrying in %1 s").arg(seconds, 0, 'f', 1);
    updateDetail();
}

void StatusHeader::updateDetail()
{
    QStringList parts{m_server.isEmpty() ? tr("no server") : m_server.toDisplayString(QUrl::RemoveUserInfo)};
    if (!m_reason.isEmpty())
        parts.append(m_reason);
    if (!m_retry.isEmpty())
        parts.append(m_retry);
    if (m_stale && m_lastKnown.isValid())
        parts.append(tr("figures last known at %1").arg(format::time(m_lastKnown)));
    const QString detail = parts.join(u" \u2014 "_s);
    m_stateDetail->setText(detail);
    m_stateDetail->setToolTip(detail);
}

void StatusHeader::setFigures(const ServerFigures &f)
{
    if (!f.version.isEmpty())
        m_version.value->setText(f.mode.isEmpty() ? f.version : u"%1 (%2)"_s.arg(f.version, f.mode));
    m_uptime.value->setText(format::duration(static_cast<qint64>(f.uptimeSeconds)));
    m_connections.value->setText(f.maxConnections ? u"%1 / %2"_s.arg(f.connections).arg(*f.maxConnections)
                                                  : QString::number(f.connections));
    m_connections.value->setToolTip(f.maxConnections ? tr("Open WebSocket connections / the server's cap")
                                                     : tr("Open WebSocket connections"));
    m_rooms.value->setText(QString::number(f.rooms));
    if (f.hasRates) {
        m_messages.value->setText(
            u"%1 / %2"_s.arg(format::rate(f.messagesInPerSecond), format::rate(f.messagesOutPerSecond)));
        m_memory.value->setText(f.residentMemoryBytes > 0 ? format::bytes(f.residentMemoryBytes) : u"-"_s);
    }
}

void StatusHeader::clearFigures()
{
    for (const Tile &tile : std::as_const(m_tiles))
        tile.value->setText(u"\u2013"_s);
}

void StatusHeader::setStale(bool stale, const QDateTime &lastKnown)
{
    m_stale = stale;
    m_lastKnown = lastKnown;
    applyFonts();
    updateDetail();
}

QString StatusHeader::stateText() const
{
    return m_stateText->text();
}

QString StatusHeader::detailText() const
{
    return m_stateDetail->text();
}

} // namespace medrelay::console
