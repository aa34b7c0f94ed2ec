// EventLogModel: server events and the console's own entries, appended in
// order and capped by dropping the oldest rows.
#include "core/EventLogModel.h"

#include <QSignalSpy>
#include <QtTest>

using namespace Qt::StringLiterals;
using medrelay::adminapi::Event;
using medrelay::console::EventLogModel;
using medrelay::console::LogEntry;

namespace {

Event makeEvent(qint64 seq, const QString &kind)
{
    Event e;
    e.seq = seq;
    e.kind = kind;
    e.timestamp = QDateTime::currentDateTimeUtc();
    e.roomId = u"r%1"_s.arg(seq);
    e.connectionId = u"c%1"_s.arg(seq);
    e.userId = QString::number(seq);
    return e;
}

} // namespace

class TestEventLogModel final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void appendsServerAndConsoleEntries()
    {
        EventLogModel log;
        QSignalSpy inserted(&log, &QAbstractItemModel::rowsInserted);
        log.addServerEvents({makeEvent(1, u"join"_s), makeEvent(2, u"rejected"_s)});
        log.addConsoleEntry(u"action"_s, u"Closing room r1"_s, LogEntry::Severity::Info, u"r1"_s);
        QCOMPARE(log.rowCount(), 3);
        QCOMPARE(inserted.count(), 2);
        QCOMPARE(log.index(0, EventLogModel::KindColumn).data().toString(), EventLogModel::kindLabel(u"join"_s));
        QCOMPARE(log.index(1, 0).data(EventLogModel::SeverityRole).toInt(), int(LogEntry::Severity::Warning));
        QCOMPARE(log.index(2, EventLogModel::RoomColumn).data().toString(), u"r1"_s);
        QCOMPARE(log.index(2, 0).data(EventLogModel::SourceRole).toInt(), int(LogEntry::Source::Console));
        QCOMPARE(log.entries().at(1).seq, 2);
        QVERIFY(log.index(0, 0).data(Qt::ToolTipRole).toString().contains(u"1"_s));
        log.addServerEvents({});
        QCOMPARE(inserted.count(), 2);
    }

    void capacityDropsOldest()
    {
        EventLogModel log;
        log.setCapacity(5);
        QList<Event> batch;
        for (int i = 1; i <= 3; ++i)
            batch.append(makeEvent(i, u"join"_s));
        log.addServerEvents(batch);
        QSignalSpy removed(&log, &QAbstractItemModel::rowsRemoved);
        batch.clear();
        for (int i = 4; i <= 7; ++i)
            batch.append(makeEvent(i, u"leave"_s));
        log.addServerEvents(batch);
        QCOMPARE(log.rowCount(), 5);
        QCOMPARE(removed.count(), 1);
        QCOMPARE(log.entries().constFirst().seq, 3);
        QCOMPARE(log.entries().constLast().seq, 7);

        // A batch larger than the whole log keeps only its newest entries.
        batch.clear();
        for (int i = 8; i <= 20; ++i)
            batch.append(makeEvent(i, u"join"_s));
        log.addServerEvents(batch);
        QCOMPARE(log.rowCount(), 5);
        QCOMPARE(log.entries().constFirst().seq, 16);

        log.setCapacity(2);
        QCOMPARE(log.rowCount(), 2);
        QCOMPARE(log.entries().constFirst().seq, 19);
        log.clear();
        QCOMPARE(log.rowCount(), 0);
    }

    void labelsForEveryServerKind()
    {
        for (const char *kind : {"join", "leave", "room_created", "room_closed", "rejected", "disconnect", "admin"})
            QVERIFY(EventLogModel::kindLabel(QString::fromLatin1(kind)) != QString::fromLatin1(kind));
        QCOMPARE(EventLogModel::kindLabel(u"future_kind"_s), u"future_kind"_s);
    }
};

QTEST_GUILESS_MAIN(TestEventLogModel)
#include "tst_eventlogmodel.moc"
