// Helper of tst_historydurability, not a test: appends to the SQLite history
// store without end, 32 calls in flight, and prints "acked N" whenever every
// message up to seq N has had its callback. The test kills it with SIGKILL.
//
// usage: store_durability_child DATA_DIR KEY_HEX ROOM_ID
// Bodies are "message <seq>" padded to 300 bytes; a seq other than the one
// expected prints "mismatch" and exits 4.

#include "store/HistoryCipher.h"
#include "store/SqliteHistoryStore.h"

#include <QCoreApplication>
#include <QObject>

#include <cstdio>
#include <set>

using namespace Qt::StringLiterals;
using namespace medrelay::store;

namespace {

constexpr int kInFlight = 32;

QByteArray bodyFor(qint64 seq)
{
    QByteArray body = "message " + QByteArray::number(seq);
    body.append(300 - body.size(), '.');
    return body;
}

void say(const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 4) {
        say("usage: store_durability_child DATA_DIR KEY_HEX ROOM_ID");
        return 2;
    }
    QString error;
    auto cipher = HistoryCipher::create(QByteArray::fromHex(args.at(2).toLatin1()), &error);
    if (!cipher) {
        say("error " + error.toUtf8());
        return 2;
    }
    SqliteHistoryStore::Options options;
    options.dataDir = args.at(1);
    options.limits.maxMessagesPerRoom = 1'000'000;
    options.limits.maxAgeMs = 0;
    SqliteHistoryStore::Opened opened = SqliteHistoryStore::open(std::move(options), std::move(cipher));
    if (!opened.store) {
        say("error " + opened.error.toUtf8());
        return 2;
    }
    SqliteHistoryStore &store = *opened.store;
    const QString roomId = args.at(3);
    QObject context;

    qint64 next = 0;   // seq the next append will get
    qint64 acked = 0;  // every seq up to this one is acknowledged
    std::set<qint64> ackedAhead;
    std::function<void()> sendOne;
    sendOne = [&] {
        const qint64 expected = next++;
        AppendRequest r;
        r.roomId = roomId;
        r.body = bodyFor(expected);
        store.append(std::move(r), &context, [&, expected](AppendResult result) {
            if (!result.ok) {
                say("error " + result.error.toUtf8());
                QCoreApplication::exit(3);
                return;
            }
            if (result.seq != expected) {
                say("mismatch " + QByteArray::number(result.seq) + " " + QByteArray::number(expected));
                QCoreApplication::exit(4);
                return;
            }
            ackedAhead.insert(result.seq);
            const qint64 before = acked;
            while (!ackedAhead.empty() && *ackedAhead.begin() == acked + 1) {
                acked = *ackedAhead.begin();
                ackedAhead.erase(ackedAhead.begin());
            }
            if (acked != before)
                say("acked " + QByteArray::number(acked));
            sendOne();
        });
    };

    store.room(roomId, &context, [&](RoomRecord record) {
        if (!record.ok) {
            say("error " + record.error.toUtf8());
            QCoreApplication::exit(3);
            return;
        }
        acked = record.lastSeq;
        next = record.lastSeq + 1;
        say("start " + QByteArray::number(record.lastSeq));
        for (int i = 0; i < kInFlight; ++i)
            sendOne();
    });
    return app.exec();
}
