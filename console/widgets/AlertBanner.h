#pragma once
// The band above the header that lists the active alerts (AlertsModel), most
// severe first, each with what to do. Hidden while there is none.

#include <QFrame>

class QLabel;

namespace medrelay::console {

class AlertsModel;

class AlertBanner final : public QFrame
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AlertBanner)

public:
    explicit AlertBanner(AlertsModel *alerts, QWidget *parent = nullptr);

    // One line per alert, as shown (plain text), for tests.
    [[nodiscard]] QStringList texts() const { return m_lines; }

protected:
    void changeEvent(QEvent *event) override;

private:
    void refresh();

    AlertsModel *m_alerts = nullptr;
    QLabel *m_icon = nullptr;
    QLabel *m_text = nullptr;
    QStringList m_lines;
};

} // namespace medrelay::console
