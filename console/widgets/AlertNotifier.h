#pragma once
// Announces each new alert on the desktop (a tray notification) when the
// user has turned that on and the desktop has a system tray; otherwise the
// banner in the window is all there is.

#include <QObject>

class QSystemTrayIcon;

namespace medrelay::console {

class AlertsModel;
struct Alert;

class AlertNotifier final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AlertNotifier)

public:
    explicit AlertNotifier(AlertsModel *alerts, QObject *parent = nullptr);
    ~AlertNotifier() override;

    [[nodiscard]] static bool isAvailable();
    void setEnabled(bool on);
    [[nodiscard]] bool isEnabled() const { return m_enabled; }

private:
    void announce(const Alert &alert);

    QSystemTrayIcon *m_tray = nullptr;
    bool m_enabled = false;
};

} // namespace medrelay::console
