#pragma once
// Confirmation of a destructive admin action (close a room, close idle rooms,
// disconnect a participant): says what will happen, asks for the reason that
// the server passes on to the people affected, and defaults to Cancel. When
// the action touches many rooms, all of them are listed (scrollable, one per
// line, never cut inside a name).
// IdleRoomsDialog is the first step of "close idle rooms": how idle is idle.

#include <QDialog>

class QLineEdit;
class QListWidget;
class QSpinBox;

namespace medrelay::console {

class ConfirmDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConfirmDialog)

public:
    ConfirmDialog(const QString &title, const QString &message, const QString &confirmText,
                  const QString &defaultReason, QWidget *parent = nullptr);

    [[nodiscard]] QString reason() const;
    void setItems(const QStringList &items);
    [[nodiscard]] QListWidget *itemsView() const { return m_items; }

private:
    QLineEdit *m_reason = nullptr;
    QListWidget *m_items = nullptr;
};

class IdleRoomsDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(IdleRoomsDialog)

public:
    explicit IdleRoomsDialog(int defaultMinutes, QWidget *parent = nullptr);

    [[nodiscard]] int minutes() const;
    [[nodiscard]] QString reason() const;

private:
    QSpinBox *m_minutes = nullptr;
    QLineEdit *m_reason = nullptr;
};

} // namespace medrelay::console
