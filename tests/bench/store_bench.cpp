// medrelay-store-bench: what storing a message costs. Not a test: it prints
// figures. For the memory and the SQLite history store, in one room and
// spread over 1,000 rooms, with 300-byte bodies and a deduplication key on
// every append (as the room service sends them):
//
//   saturate  N appends with `window` calls in flight (the room service's
//             many senders); appends/s, latency from call to callback
//   paced     appends at fixed rates for a few seconds; latency measured from
//             when each append was due, so a store that falls behind shows
//             up as latency instead of hiding it
//
// plus CPU time per append (all threads of this process) and, for SQLite,
// disk bytes per stored message. See docs/BENCHMARKS.md.

#include "store/HistoryCipher.h"
#include "store/MemoryHistoryStore.h"
#include "store/SqliteHistoryStore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTimer>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using namespace medrelay::store;

namespace {

struct Figures
{
    QString backend;
    int rooms = 0;
    QString mode;
    qint64 appends = 0;
    double perSecond = 0;
    double p50Ms = 0;
    double p99Ms = 0;
    double maxMs = 0;
    double cpuUsPerAppend = 0;
    qint64 failed = 0;
};

double cpuSeconds()
{
    rusage ru = {};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double percentileMs(std::vector<qint64> &ns, double p)
{
    if (ns.empty())
        return 0;
    const auto k = std::min(ns.size() - 1, std::size_t(p * double(ns.size())));
    std::nth_element(ns.begin(), ns.begin() + qsizetype(k), ns.end());
    return double(ns[k]) / 1e6;
}

// Issues appends and collects their latencies; runs the event loop until
// every callback came back.
class Driver final
{
public:
    Driver(HistoryStore &store, int rooms, const QByteArray &body) : m_store(store), m_rooms(rooms), m_body(body)
    {
        for (int r = 0; r < rooms; ++r)
            m_roomIds.append(u"bench-room-%1"_s.arg(r));
    }

    // dueNs: when this append was due (the clock of m_clock).
    void issue(qint64 dueNs)
    {
        const qint64 i = m_sent++;
        ++m_inFlight;
        AppendRequest r;
        r.roomId = m_roomIds.at(int(i % m_rooms));
        r.cls = MessageClass::Chat;
        r.body = m_body;
        r.dedupKey = "user-" + QByteArray::number(i % 7) + "|msg-" + QByteArray::number(i);
        m_store.append(std::move(r), &m_context, [this, dueNs](AppendResult result) {
            m_latencies.push_back(m_clock.nsecsElapsed() - dueNs);
            if (!result.ok)
                ++m_failed;
            --m_inFlight;
            if (m_onDone)
                m_onDone();
        });
    }

    Figures saturate(qint64 count, int window)
    {
        reset();
        QEventLoop loop;
        QObject run; // pending refills die with it when this run returns
        bool scheduled = false;
        auto pump = [&] {
            scheduled = false;
            while (m_inFlight < window && m_sent < count)
                issue(m_clock.nsecsElapsed());
            if (m_sent >= count && m_inFlight == 0)
                loop.quit();
        };
        // Refill from the event loop, never from inside a callback (the
        // memory store calls back before append() returns).
        m_onDone = [&] {
            if (!scheduled && (m_inFlight <= window / 2 || m_sent >= count)) {
                scheduled = true;
                QMetaObject::invokeMethod(&run, pump, Qt::QueuedConnection);
            }
        };
        const double cpu0 = cpuSeconds();
        QMetaObject::invokeMethod(&run, pump, Qt::QueuedConnection);
        loop.exec();
        m_onDone = nullptr;
        return finish(u"saturate"_s, cpu0);
    }

    Figures paced(int perSecond, int seconds)
    {
        reset();
        const qint64 count = qint64(perSecond) * seconds;
        const qint64 intervalNs = 1'000'000'000LL / perSecond;
        QEventLoop loop;
        QObject run;
        QTimer tick;
        tick.setTimerType(Qt::PreciseTimer);
        tick.setInterval(1);
        QObject::connect(&tick, &QTimer::timeout, &m_context, [&] {
            const qint64 now = m_clock.nsecsElapsed();
            while (m_sent < count && m_sent * intervalNs <= now)
                issue(m_sent * intervalNs);
            if (m_sent >= count)
                tick.stop();
        });
        m_onDone = [&] {
            if (m_sent >= count && m_inFlight == 0)
                QMetaObject::invokeMethod(&run, [&loop] { loop.quit(); }, Qt::QueuedConnection);
        };
        const double cpu0 = cpuSeconds();
        tick.start();
        loop.exec();
        m_onDone = nullptr;
        return finish(u"paced %1/s"_s.arg(perSecond), cpu0);
    }

private:
    void reset()
    {
        m_store.flush(60'000);
        m_sent = 0;
        m_inFlight = 0;
        m_failed = 0;
        m_latencies.clear();
        m_latencies.reserve(1 << 20);
        m_clock.restart();
    }

    Figures finish(const QString &mode, double cpu0)
    {
        Figures f;
        f.mode = mode;
        f.rooms = m_rooms;
        f.appends = m_sent;
        f.failed = m_failed;
        const double seconds = double(m_clock.nsecsElapsed()) / 1e9;
        f.perSecond = double(m_sent) / seconds;
        f.cpuUsPerAppend = (cpuSeconds() - cpu0) * 1e6 / double(std::max<qint64>(1, m_sent));
        f.p50Ms = percentileMs(m_latencies, 0.50);
        f.p99Ms = percentileMs(m_latencies, 0.99);
        f.maxMs = m_latencies.empty() ? 0 : double(*std::max_element(m_latencies.begin(), m_latencies.end())) / 1e6;
        return f;
    }

    HistoryStore &m_store;
    int m_rooms = 1;
    QByteArray m_body;
    QStringList m_roomIds;
    QObject m_context;
    QElapsedTimer m_clock;
    std::function<void()> m_onDone;
    qint64 m_sent = 0;
    qint64 m_inFlight = 0;
    qint64 m_failed = 0;
    std::vector<qint64> m_latencies;
};

void print(const Figures &f)
{
    std::printf("%-7s %6d  %-15s %9lld %11.0f %9.3f %9.3f %9.3f %11.2f %7lld\n", qPrintable(f.backend), f.rooms,
                qPrintable(f.mode), qlonglong(f.appends), f.perSecond, f.p50Ms, f.p99Ms, f.maxMs, f.cpuUsPerAppend,
                qlonglong(f.failed));
    std::fflush(stdout);
}

qint64 diskBytes(const QString &dir)
{
    qint64 total = 0;
    for (const QFileInfo &fi : QDir(dir).entryInfoList(QDir::Files | QDir::Hidden))
        total += fi.size();
    return total;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(u"Prints the cost of storing messages in the history stores."_s);
    parser.addHelpOption();
    const QCommandLineOption countOpt(u"appends"_s, u"Appends per saturation run (default 200000)."_s, u"N"_s,
                                      u"200000"_s);
    const QCommandLineOption windowOpt(u"window"_s, u"Appends in flight when saturating (default 1000)."_s, u"N"_s,
                                       u"1000"_s);
    const QCommandLineOption ratesOpt(u"rates"_s, u"Paced rates, comma-separated (default 1000,10000)."_s,
                                      u"LIST"_s, u"1000,10000"_s);
    const QCommandLineOption secondsOpt(u"seconds"_s, u"Seconds per paced run (default 3)."_s, u"S"_s, u"3"_s);
    const QCommandLineOption dirOpt(u"dir"_s, u"Directory for the SQLite files (default: a temporary one)."_s,
                                    u"DIR"_s);
    const QCommandLineOption backendOpt(u"backend"_s, u"memory, sqlite or all (default all)."_s, u"NAME"_s,
                                        u"all"_s);
    const QCommandLineOption roomsOpt(u"rooms"_s, u"Room counts to spread appends over (default 1,1000)."_s,
                                      u"LIST"_s, u"1,1000"_s);
    parser.addOptions({countOpt, windowOpt, ratesOpt, secondsOpt, dirOpt, backendOpt, roomsOpt});
    parser.process(app);

    const qint64 count = parser.value(countOpt).toLongLong();
    const int window = parser.value(windowOpt).toInt();
    const int seconds = parser.value(secondsOpt).toInt();
    QList<int> rates;
    for (const QString &r : parser.value(ratesOpt).split(u',', Qt::SkipEmptyParts))
        rates.append(r.toInt());
    QList<int> roomCounts;
    for (const QString &r : parser.value(roomsOpt).split(u',', Qt::SkipEmptyParts))
        roomCounts.append(r.toInt());
    const QString which = parser.value(backendOpt);
    const auto notPositive = [](int v) { return v <= 0; };
    const bool badList = std::any_of(rates.cbegin(), rates.cend(), notPositive)
        || std::any_of(roomCounts.cbegin(), roomCounts.cend(), notPositive);
    if (count <= 0 || window <= 0 || seconds <= 0 || badList) {
        std::fprintf(stderr, "medrelay-store-bench: --appends, --window, --seconds, --rates and --rooms must be"
                             " positive\n");
        return 2;
    }

    QTemporaryDir temp(parser.isSet(dirOpt) ? QDir(parser.value(dirOpt)).filePath(u"store-bench-XXXXXX"_s)
                                            : QDir::tempPath() + u"/store-bench-XXXXXX"_s);
    if (!temp.isValid()) {
        std::fprintf(stderr, "medrelay-store-bench: cannot create a directory: %s\n", qPrintable(temp.errorString()));
        return 2;
    }
    const QByteArray body(300, 'b');
    std::printf("300-byte bodies, a deduplication key on every append; saturate: %lld appends, %d in flight; "
                "paced: %d s per rate\n",
                qlonglong(count), window, seconds);
    std::printf("%-7s %6s  %-15s %9s %11s %9s %9s %9s %11s %7s\n", "store", "rooms", "mode", "appends", "appends/s",
                "p50 ms", "p99 ms", "max ms", "cpu us/app", "failed");

    for (const QString &backend : {u"memory"_s, u"sqlite"_s}) {
        if (which != "all"_L1 && which != backend)
            continue;
        for (const int rooms : std::as_const(roomCounts)) {
            const QString dir = temp.filePath(u"%1-%2"_s.arg(backend).arg(rooms));
            std::unique_ptr<HistoryStore> store;
            if (backend == "memory"_L1) {
                store = std::make_unique<MemoryHistoryStore>();
            } else {
                QString error;
                auto cipher = HistoryCipher::create(QByteArray(32, 'k'), &error);
                SqliteHistoryStore::Options o;
                o.dataDir = dir;
                SqliteHistoryStore::Opened opened = SqliteHistoryStore::open(std::move(o), std::move(cipher));
                if (!opened.store) {
                    std::fprintf(stderr, "medrelay-store-bench: %s\n", qPrintable(opened.error));
                    return 1;
                }
                store = std::move(opened.store);
            }
            Driver driver(*store, rooms, body);
            Figures f = driver.saturate(count, window);
            f.backend = backend;
            print(f);
            for (const int rate : rates) {
                f = driver.paced(rate, seconds);
                f.backend = backend;
                print(f);
            }
            if (backend == "sqlite"_L1) {
                const qint64 held = qint64(rooms) * std::min<qint64>(2000, store->stats().appended / rooms);
                store.reset(); // checkpoints the write-ahead log into the database
                std::printf("        sqlite, %d rooms: %lld messages held, %.0f bytes on disk per message\n", rooms,
                            qlonglong(held), double(diskBytes(dir)) / double(std::max<qint64>(1, held)));
            }
        }
    }
    return 0;
}
