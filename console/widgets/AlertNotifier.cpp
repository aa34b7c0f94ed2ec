#include "widgets/AlertNotifier.h"

#include "core/AlertsModel.h"

#include <QApplication>
#include <QStyle>
#include <QSystemTrayIcon>

namespace medrelay::console {

AlertNotifier::AlertNotifier(AlertsModel *alerts, QObject *parent)
    : QObject(parent)
{
    connect(alerts, &AlertsModel::alertRaised, this, &AlertNotifier::announce);
}

AlertNotifier::~AlertNotifier() = default;

bool AlertNotifier::isAvailable()
{
    return QSystemTrayIcon::isSystemTrayAvailable();
}

void AlertNotifier::setEnabled(bool on)
{
    m_enabled = on && isAvailable();
    if (m_enabled && !m_tray) {
        m_tray = new QSystemTrayIcon(QApplication::style()->standardIcon(QStyle::SP_ComputerIcon), this);
        m_tray->setToolTip(tr("medrelay console"));
    }
    if (m_tray)
        m_tray->setVisible(m_enabled);
}

void AlertNotifier::announce(const Alert &alert)
{
    if (!m_enabled || !m_tray)
        return;
    m_tray->showMessage(alert.title, alert.detail,
                        alert.severity == Alert::Severity::Critical ? QSystemTrayIcon::Critical
                                                                    : QSystemTrayIcon::Warning);
}

} // namespace medrelay::console
