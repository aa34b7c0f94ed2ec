// medrelay-loadgen: the benchmark load generator and its trivial relay.
//
//   medrelay-loadgen relay [--host H] [--port P]
//   medrelay-loadgen run --scenario idle|storm|fanout|latency|clinic [options] [-- server command ...]
//
// Against several server instances (a cluster), `--ports P1,P2,...` spreads
// the clients over them (`--split members`: the members of each room on
// different instances; `--split rooms`: each room whole on one instance) and
// `--server-pids` names every process whose CPU time and memory count as the
// server's (the instances and the Redis between them).
//
// `run` forks worker processes (each with its own file-descriptor limit),
// drives them through the scenario's phases over shared memory, samples the
// server's CPU time and resident memory from /proc, and prints one JSON
// document. With `-- command ...` it starts the server itself, reads the port
// from its "listening on host:port" line, and stops it at the end.

#include "ClientWorker.h"
#include "Shared.h"
#include "TrivialRelay.h"
#include "Wire.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace medrelay::bench;

namespace {

struct Options
{
    std::string scenario = "fanout";
    std::string host = "127.0.0.1";
    int port = 0;
    std::string path = "/ws";
    int clients = 1000;
    int roomSize = 2;
    int workers = 1;
    int inflight = 256;
    double connectTimeoutS = 20;
    std::vector<double> rates = {1000};
    double stepSeconds = 5;
    double drainSeconds = 5;
    double p99LimitMs = 50;
    double alwaysTo = 0; // fanout: steps at or below this rate run even after a step failed
    std::vector<int> checkpoints;
    double settleSeconds = 2;
    double durationS = 60;
    double chatIntervalS = 10;   // clinic: each client chats every this many seconds
    double whiteboardRate = 4;   // clinic: whiteboard updates per room per second
    int iceBurst = 20;
    double signalSpreadS = 2;
    int payloadBytes = 64;
    int serverPid = 0;
    std::vector<int> ports;      // several instances (--ports); empty: --port alone
    bool splitMembers = true;    // --split members|rooms
    std::vector<int> serverPids; // --server-pids: all of them count as the server
    std::string roomPrefix;
    std::string jsonPath;
    bool failOnLoss = false;
    bool tls = false;
    int sourceAddresses = 0;
    std::vector<std::string> spawn;
    std::string commandLine; // this program's own arguments, for the results file
};

[[noreturn]] void usage(const char *why)
{
    if (why)
        std::fprintf(stderr, "medrelay-loadgen: %s\n", why);
    std::fprintf(stderr,
                 "usage: medrelay-loadgen relay [--host H] [--port P]\n"
                 "       medrelay-loadgen run --scenario idle|storm|fanout|latency|clinic [options] [-- server cmd]\n"
                 "options: --host H --port P --path /ws --clients N --room-size K --workers W --inflight N\n"
                 "         --connect-timeout S --rates D1,D2,... (deliveries/s per step) --step-seconds S\n"
                 "         --drain-seconds S --p99-limit-ms X --always-to D --checkpoints N1,N2,... --settle-seconds S\n"
                 "         --duration S --chat-interval S --whiteboard-rate R --ice-burst N --signal-spread S\n"
                 "         --payload BYTES --server-pid PID --room-prefix P --json FILE --fail-on-loss\n"
                 "         --tls (wss://: OpenSSL client, the server's certificate is not checked)\n"
                 "         --source-addresses N (bind clients to 127.1.0.1..N, for more than ~28,000 connections)\n"
                 "         --ports P1,P2,... --split members|rooms --server-pids PID1,PID2,... (several instances)\n");
    std::exit(64);
}

template<typename T>
std::vector<T> parseList(const std::string &s)
{
    std::vector<T> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty())
            out.push_back(static_cast<T>(std::strtod(item.c_str(), nullptr)));
    return out;
}

Options parseOptions(int argc, char **argv, int first)
{
    Options o;
    for (int i = 0; i < argc; ++i) {
        if (i > 0)
            o.commandLine += ' ';
        o.commandLine += argv[i];
    }
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            for (int j = i + 1; j < argc; ++j)
                o.spawn.emplace_back(argv[j]);
            break;
        }
        if (a == "--tls") {
            o.tls = true;
            continue;
        }
        if (a == "--fail-on-loss") {
            o.failOnLoss = true;
            continue;
        }
        if (i + 1 >= argc)
            usage(("missing value for " + a).c_str());
        const std::string v = argv[++i];
        const double d = std::strtod(v.c_str(), nullptr);
        if (a == "--scenario") o.scenario = v;
        else if (a == "--host") o.host = v;
        else if (a == "--port") o.port = static_cast<int>(d);
        else if (a == "--path") o.path = v;
        else if (a == "--clients") o.clients = static_cast<int>(d);
        else if (a == "--room-size") o.roomSize = static_cast<int>(d);
        else if (a == "--workers") o.workers = static_cast<int>(d);
        else if (a == "--inflight") o.inflight = static_cast<int>(d);
        else if (a == "--connect-timeout") o.connectTimeoutS = d;
        else if (a == "--rates" || a == "--rate") o.rates = parseList<double>(v);
        else if (a == "--step-seconds") o.stepSeconds = d;
        else if (a == "--drain-seconds") o.drainSeconds = d;
        else if (a == "--p99-limit-ms") o.p99LimitMs = d;
        else if (a == "--always-to") o.alwaysTo = d;
        else if (a == "--checkpoints") o.checkpoints = parseList<int>(v);
        else if (a == "--settle-seconds") o.settleSeconds = d;
        else if (a == "--duration") o.durationS = d;
        else if (a == "--chat-interval") o.chatIntervalS = d;
        else if (a == "--whiteboard-rate") o.whiteboardRate = d;
        else if (a == "--ice-burst") o.iceBurst = static_cast<int>(d);
        else if (a == "--signal-spread") o.signalSpreadS = d;
        else if (a == "--payload") o.payloadBytes = static_cast<int>(d);
        else if (a == "--server-pid") o.serverPid = static_cast<int>(d);
        else if (a == "--server-pids") o.serverPids = parseList<int>(v);
        else if (a == "--ports") o.ports = parseList<int>(v);
        else if (a == "--split") {
            if (v != "members" && v != "rooms")
                usage("--split takes members or rooms");
            o.splitMembers = v == "members";
        }
        else if (a == "--room-prefix") o.roomPrefix = v;
        else if (a == "--json") o.jsonPath = v;
        else if (a == "--source-addresses") o.sourceAddresses = static_cast<int>(d);
        else usage(("unknown option " + a).c_str());
    }
    if (o.roomSize < 1 || o.clients < 1 || o.workers < 1)
        usage("clients, room size and workers must be positive");
    o.clients -= o.clients % o.roomSize; // whole rooms only
    if (o.roomPrefix.empty())
        o.roomPrefix = "b" + std::to_string(getpid());
    if (!o.ports.empty() && o.port <= 0)
        o.port = o.ports.front();
    for (const int port : o.ports)
        if (port <= 0 || port > 65535)
            usage("--ports takes port numbers");
    return o;
}

double secondsSince(std::uint64_t t0) { return static_cast<double>(monotonicNs() - t0) / 1e9; }
void sleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// --- /proc sampling ---------------------------------------------------------

std::uint64_t cpuNs(int pid)
{
    if (pid <= 0)
        return 0;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t p = s.rfind(')');
    if (p == std::string::npos)
        return 0;
    std::stringstream ss(s.substr(p + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After the command name: state is field 3; utime and stime are 14 and 15.
    for (int i = 3; i <= 15 && ss >> field; ++i) {
        if (i == 14)
            utime = std::strtoull(field.c_str(), nullptr, 10);
        if (i == 15)
            stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    const long ticks = sysconf(_SC_CLK_TCK);
    return (utime + stime) * 1'000'000'000ULL / static_cast<unsigned long long>(ticks > 0 ? ticks : 100);
}

// Several processes counted as one server (cluster instances and Redis).
std::uint64_t cpuNs(const std::vector<int> &pids)
{
    std::uint64_t sum = 0;
    for (const int pid : pids)
        sum += cpuNs(pid);
    return sum;
}

long rssKb(int pid)
{
    if (pid <= 0)
        return 0;
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

long rssKb(const std::vector<int> &pids)
{
    long sum = 0;
    for (const int pid : pids)
        sum += rssKb(pid);
    return sum;
}

// TcpExt ListenOverflows from /proc/net/netstat: SYNs or completed handshakes
// dropped because a listener's accept queue was full. Machine-wide, so only
// meaningful as a difference across one server's connect phase.
long long listenOverflows()
{
    std::ifstream f("/proc/net/netstat");
    std::string names, values;
    while (std::getline(f, names) && std::getline(f, values)) {
        if (names.rfind("TcpExt:", 0) != 0)
            continue;
        std::stringstream n(names), v(values);
        std::string name, value;
        while (n >> name && v >> value)
            if (name == "ListenOverflows")
                return std::atoll(value.c_str());
    }
    return 0;
}

// Cores and CPU model of this machine, for the results file.
struct Machine
{
    long cpus = 0;
    std::string cpuModel;
};

Machine machine()
{
    Machine m;
    m.cpus = sysconf(_SC_NPROCESSORS_ONLN);
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("model name", 0) == 0) {
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos)
                m.cpuModel = line.substr(line.find_first_not_of(' ', colon + 1));
            break;
        }
    }
    return m;
}

// The listen backlog of the socket listening on `port` (what listen() was
// given, capped by net.core.somaxconn), as ss reports it in the Send-Q
// column of a listening socket; 0 where ss is missing.
long listenBacklog(int port)
{
    const std::string cmd = "ss -Hltn 'sport = :" + std::to_string(port) + "' 2>/dev/null";
    FILE *p = popen(cmd.c_str(), "r");
    if (!p)
        return 0;
    char buf[512];
    long backlog = 0;
    if (std::fgets(buf, sizeof buf, p)) {
        std::stringstream ss(buf);
        std::string state, recvQ, sendQ;
        if (ss >> state >> recvQ >> sendQ)
            backlog = std::atol(sendQ.c_str());
    }
    pclose(p);
    return backlog;
}

// --- JSON output ------------------------------------------------------------

class Json final
{
public:
    Json &open(const char *key = nullptr)
    {
        raw(key, "{");
        m_first = true;
        return *this;
    }
    Json &close() { m_out += '}'; m_first = false; return *this; }
    Json &openArray(const char *key) { raw(key, "["); m_first = true; return *this; }
    Json &closeArray() { m_out += ']'; m_first = false; return *this; }
    Json &num(const char *key, double v)
    {
        char buf[64];
        if (v == static_cast<double>(static_cast<long long>(v)) && std::abs(v) < 1e15)
            std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
        else
            std::snprintf(buf, sizeof buf, "%.6g", v);
        return raw(key, buf);
    }
    Json &boolean(const char *key, bool v) { return raw(key, v ? "true" : "false"); }
    Json &str(const char *key, std::string_view v)
    {
        std::string q = "\"";
        for (const char c : v) {
            if (c == '"' || c == '\\') {
                q += '\\';
                q += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                q += ' ';
            } else {
                q += c;
            }
        }
        q += '"';
        return raw(key, q);
    }
    [[nodiscard]] const std::string &text() const { return m_out; }

private:
    Json &raw(const char *key, std::string_view value)
    {
        if (!m_first && !m_out.empty() && m_out.back() != '{' && m_out.back() != '[')
            m_out += ',';
        if (key) {
            m_out += '"';
            m_out += key;
            m_out += "\":";
        }
        m_out += value;
        m_first = false;
        return *this;
    }
    std::string m_out;
    bool m_first = true;
};

void latencyJson(Json &j, const char *key, const HistogramSnapshot &h, std::uint64_t maxNs)
{
    j.open(key)
        .num("count", static_cast<double>(h.count))
        .num("p50", static_cast<double>(h.percentile(50)) / 1e6)
        .num("p90", static_cast<double>(h.percentile(90)) / 1e6)
        .num("p99", static_cast<double>(h.percentile(99)) / 1e6)
        .num("p999", static_cast<double>(h.percentile(99.9)) / 1e6)
        .num("max", static_cast<double>(maxNs) / 1e6)
        .num("mean", h.count ? static_cast<double>(h.sum) / static_cast<double>(h.count) / 1e6 : 0)
        .close();
}

// --- server process -----------------------------------------------------------

struct Spawned
{
    pid_t pid = 0;
    int port = 0;
    std::string logPath;
};

Spawned spawnServer(const std::vector<std::string> &cmd)
{
    Spawned s;
    char tmpl[] = "/tmp/medrelay-loadgen-server-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd < 0) {
        std::perror("mkstemp");
        std::exit(70);
    }
    s.logPath = tmpl;
    s.pid = fork();
    if (s.pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        std::vector<char *> args;
        for (const auto &a : cmd)
            args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        std::perror("execvp");
        _exit(127);
    }
    ::close(fd);
    const std::uint64_t t0 = monotonicNs();
    while (secondsSince(t0) < 30) {
        std::ifstream f(s.logPath);
        std::string line;
        while (std::getline(f, line)) {
            const std::size_t at = line.find("listening on ");
            if (at == std::string::npos)
                continue;
            const std::size_t colon = line.rfind(':');
            s.port = std::atoi(line.c_str() + colon + 1);
            if (s.port > 0)
                return s;
        }
        int status = 0;
        if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
            std::fprintf(stderr, "medrelay-loadgen: server exited before listening; its output:\n");
            std::ifstream again(s.logPath);
            std::fprintf(stderr, "%s\n", std::string((std::istreambuf_iterator<char>(again)), {}).c_str());
            s.pid = 0;
            return s;
        }
        sleepSeconds(0.05);
    }
    std::fprintf(stderr, "medrelay-loadgen: server printed no 'listening on' line in 30 s\n");
    return s;
}

int stopServer(Spawned &s)
{
    if (s.pid <= 0)
        return -1;
    kill(s.pid, SIGTERM);
    const std::uint64_t t0 = monotonicNs();
    int status = 0;
    while (secondsSince(t0) < 10) {
        if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
            unlink(s.logPath.c_str());
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleepSeconds(0.05);
    }
    kill(s.pid, SIGKILL);
    waitpid(s.pid, &status, 0);
    unlink(s.logPath.c_str());
    return 137;
}

// --- coordinator ----------------------------------------------------------------

class Coordinator final
{
public:
    Coordinator(Options options, std::vector<int> serverPids)
        : m_o(std::move(options)), m_serverPids(std::move(serverPids))
    {
    }
    Coordinator(const Coordinator &) = delete;
    Coordinator &operator=(const Coordinator &) = delete;

    int run();

private:
    struct Totals
    {
        std::uint64_t joined = 0, upgraded = 0, connectFailed = 0, disconnected = 0, errors = 0, sent = 0,
                      expected = 0, delivered = 0, other = 0, skipped = 0, started = 0;
        std::uint64_t firstConnectNs = 0, lastUpgradeNs = 0, lastJoinNs = 0;
        std::uint64_t stepMax[static_cast<int>(Latency::Count)] = {};
        HistogramSnapshot latency[static_cast<int>(Latency::Count)];
        HistogramSnapshot handshake, join;
        std::uint64_t serverCpuNs = 0, loadgenCpuNs = 0;
        std::uint64_t atNs = 0;
        long long listenOverflows = 0;
    };

    struct Quick
    {
        std::uint64_t joined = 0, failed = 0, expected = 0, delivered = 0;
    };
    // Counters only: cheap enough to poll while the servers are measured.
    Quick quick() const;
    void startWorkers();
    void setPhase(Phase phase, double ratePerWorker = 0);
    bool waitAcks(double timeoutS);
    Totals totals();
    bool connectUpTo(int target, double timeoutS);
    // Waits until every expected delivery arrived or none has for 2 s, at
    // most `seconds`.
    void drain(double seconds);
    std::string firstError(bool reply = false) const;
    void stopWorkers();
    void connectJson(Json &j, const Totals &before, const Totals &after);
    bool trafficStep(Json &j, double targetDeliveries, double seconds, double &achieved);

    Options m_o;
    std::vector<int> m_serverPids; // their CPU and memory together are the server's
    Control *m_control = nullptr;
    WorkerStats *m_stats = nullptr;
    std::vector<pid_t> m_workerPids;
    std::vector<std::string> m_problems;
};

void Coordinator::startWorkers()
{
    const std::size_t bytes = sizeof(Control) + sizeof(WorkerStats) * static_cast<std::size_t>(m_o.workers);
    void *mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        std::perror("mmap");
        std::exit(70);
    }
    m_control = new (mem) Control();
    m_stats = reinterpret_cast<WorkerStats *>(static_cast<char *>(mem) + sizeof(Control));
    for (int w = 0; w < m_o.workers; ++w)
        new (&m_stats[w]) WorkerStats();

    const int rooms = m_o.clients / m_o.roomSize;
    for (int w = 0; w < m_o.workers; ++w) {
        const int r0 = rooms * w / m_o.workers;
        const int r1 = rooms * (w + 1) / m_o.workers;
        WorkerConfig c;
        c.host = m_o.host;
        c.port = static_cast<std::uint16_t>(m_o.port);
        for (const int port : m_o.ports)
            c.ports.push_back(static_cast<std::uint16_t>(port));
        c.splitMembers = m_o.splitMembers;
        c.path = m_o.path;
        c.roomPrefix = m_o.roomPrefix;
        c.tls = m_o.tls;
        c.sourceAddresses = m_o.sourceAddresses;
        c.workerIndex = w;
        c.workerCount = m_o.workers;
        c.firstClient = r0 * m_o.roomSize;
        c.clientCount = (r1 - r0) * m_o.roomSize;
        c.totalClients = m_o.clients;
        c.roomSize = m_o.roomSize;
        c.inflight = std::max(1, m_o.inflight / m_o.workers);
        c.connectTimeoutS = m_o.connectTimeoutS;
        c.payloadBytes = m_o.payloadBytes;
        c.iceBurst = m_o.iceBurst;
        c.signalSpreadS = m_o.signalSpreadS;
        const double chatPerS = m_o.chatIntervalS > 0 ? 1.0 / m_o.chatIntervalS * m_o.roomSize : 0;
        const double total = chatPerS + m_o.whiteboardRate;
        c.whiteboardShare = total > 0 ? m_o.whiteboardRate / total : 0;
        const pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            ClientWorker worker(c, *m_control, m_stats[w]);
            worker.run();
            m_stats[w].exited.store(1, std::memory_order_release);
            _exit(0);
        }
        m_workerPids.push_back(pid);
        m_stats[w].pid.store(pid, std::memory_order_relaxed);
    }
}

void Coordinator::setPhase(Phase phase, double ratePerWorker)
{
    m_control->phase.store(static_cast<std::uint32_t>(phase), std::memory_order_relaxed);
    m_control->rateMilli.store(static_cast<std::uint64_t>(ratePerWorker * 1000.0), std::memory_order_relaxed);
    m_control->phaseStartNs.store(monotonicNs(), std::memory_order_relaxed);
    m_control->seq.fetch_add(1, std::memory_order_release);
    if (!waitAcks(10))
        m_problems.emplace_back("a worker did not acknowledge a phase change");
}

bool Coordinator::waitAcks(double timeoutS)
{
    const std::uint32_t seq = m_control->seq.load(std::memory_order_acquire);
    const std::uint64_t t0 = monotonicNs();
    while (secondsSince(t0) < timeoutS) {
        bool all = true;
        for (int w = 0; w < m_o.workers; ++w)
            all = all && (m_stats[w].ackSeq.load(std::memory_order_acquire) == seq
                          || m_stats[w].exited.load(std::memory_order_acquire));
        if (all)
            return true;
        sleepSeconds(0.001);
    }
    return false;
}

Coordinator::Totals Coordinator::totals()
{
    Totals t;
    t.atNs = monotonicNs();
    t.serverCpuNs = cpuNs(m_serverPids);
    t.listenOverflows = listenOverflows();
    for (int w = 0; w < m_o.workers; ++w) {
        const WorkerStats &s = m_stats[w];
        auto v = [](const Counter &c) { return c.load(std::memory_order_relaxed); };
        t.joined += v(s.joined);
        t.upgraded += v(s.upgraded);
        t.connectFailed += v(s.connectFailed);
        t.disconnected += v(s.disconnected);
        t.errors += v(s.errorsReceived);
        t.sent += v(s.sent);
        t.expected += v(s.expected);
        t.delivered += v(s.delivered);
        t.other += v(s.otherReceived);
        t.skipped += v(s.sendSkipped);
        t.started += v(s.connectStarted);
        const std::uint64_t first = v(s.firstConnectNs);
        if (first && (t.firstConnectNs == 0 || first < t.firstConnectNs))
            t.firstConnectNs = first;
        t.lastUpgradeNs = std::max(t.lastUpgradeNs, v(s.lastUpgradeNs));
        t.lastJoinNs = std::max(t.lastJoinNs, v(s.lastJoinNs));
        for (int c = 0; c < static_cast<int>(Latency::Count); ++c) {
            t.stepMax[c] = std::max(t.stepMax[c], v(s.stepMax[c]));
            t.latency[c].add(s.latency[c]);
        }
        t.handshake.add(s.handshake);
        t.join.add(s.join);
        t.loadgenCpuNs += cpuNs(m_workerPids[static_cast<std::size_t>(w)]);
    }
    return t;
}

Coordinator::Quick Coordinator::quick() const
{
    Quick q;
    for (int w = 0; w < m_o.workers; ++w) {
        const WorkerStats &s = m_stats[w];
        q.joined += s.joined.load(std::memory_order_relaxed);
        q.failed += s.connectFailed.load(std::memory_order_relaxed);
        q.expected += s.expected.load(std::memory_order_relaxed);
        q.delivered += s.delivered.load(std::memory_order_relaxed);
    }
    return q;
}

std::string Coordinator::firstError(bool reply) const
{
    for (int w = 0; w < m_o.workers; ++w) {
        const char *e = reply ? m_stats[w].firstErrorReply : m_stats[w].firstError;
        if (e[0])
            return std::string(e, strnlen(e, sizeof m_stats[w].firstError));
    }
    return {};
}

bool Coordinator::connectUpTo(int target, double timeoutS)
{
    m_control->connectTarget.store(static_cast<std::uint64_t>(target), std::memory_order_release);
    setPhase(Phase::Connect);
    const std::uint64_t t0 = monotonicNs();
    double lastReport = 0;
    for (;;) {
        const Quick t = quick();
        const std::uint64_t settled = t.joined + t.failed;
        if (settled >= static_cast<std::uint64_t>(target))
            break;
        const double el = secondsSince(t0);
        if (el > timeoutS) {
            m_problems.emplace_back("connect phase timed out");
            break;
        }
        if (el - lastReport >= 2) {
            lastReport = el;
            std::fprintf(stderr, "  connecting: %" PRIu64 "/%d joined, %" PRIu64 " failed\n", t.joined, target,
                         t.failed);
        }
        sleepSeconds(0.005);
    }
    setPhase(Phase::Idle);
    return quick().joined > 0;
}

void Coordinator::drain(double seconds)
{
    const std::uint64_t t0 = monotonicNs();
    std::uint64_t lastDelivered = 0;
    std::uint64_t lastChange = t0;
    while (secondsSince(t0) < seconds) {
        const Quick t = quick();
        if (t.delivered >= t.expected)
            return;
        if (t.delivered != lastDelivered) {
            lastDelivered = t.delivered;
            lastChange = monotonicNs();
        } else if (secondsSince(lastChange) > 2.0) {
            return; // nothing arrives any more: the rest is lost
        }
        sleepSeconds(0.005);
    }
}

void Coordinator::stopWorkers()
{
    setPhase(Phase::Close);
    for (const pid_t pid : m_workerPids) {
        int status = 0;
        waitpid(pid, &status, 0);
    }
}

void Coordinator::connectJson(Json &j, const Totals &b, const Totals &a)
{
    const double upgradeSpan = a.lastUpgradeNs > a.firstConnectNs
                                 ? static_cast<double>(a.lastUpgradeNs - a.firstConnectNs) / 1e9 : 0;
    const double joinSpan = a.lastJoinNs > a.firstConnectNs ? static_cast<double>(a.lastJoinNs - a.firstConnectNs) / 1e9
                                                            : 0;
    HistogramSnapshot hs = a.handshake;
    hs.subtract(b.handshake);
    HistogramSnapshot js = a.join;
    js.subtract(b.join);
    j.open("connect")
        .num("clients", m_o.clients)
        .num("attempted", static_cast<double>(a.started - b.started))
        .num("upgraded", static_cast<double>(a.upgraded - b.upgraded))
        .num("joined", static_cast<double>(a.joined - b.joined))
        .num("failed", static_cast<double>(a.connectFailed - b.connectFailed))
        .num("seconds", joinSpan)
        .num("handshakesPerS", upgradeSpan > 0 ? static_cast<double>(a.upgraded - b.upgraded) / upgradeSpan : 0)
        .num("joinsPerS", joinSpan > 0 ? static_cast<double>(a.joined - b.joined) / joinSpan : 0)
        .num("serverCpuS", static_cast<double>(a.serverCpuNs - b.serverCpuNs) / 1e9)
        .num("listenOverflows", static_cast<double>(a.listenOverflows - b.listenOverflows));
    latencyJson(j, "handshakeMs", hs, hs.max);
    latencyJson(j, "joinMs", js, js.max);
    j.close();
}

// One paced step: send for `seconds`, stop, wait for the deliveries, report.
bool Coordinator::trafficStep(Json &j, double targetDeliveries, double seconds, double &achieved)
{
    const int fanout = std::max(1, m_o.roomSize - 1);
    const double sendRate = targetDeliveries / fanout;
    m_control->stepMaxEpoch.fetch_add(1, std::memory_order_release);
    sleepSeconds(0.01);
    const Totals before = totals();
    setPhase(Phase::Send, sendRate / m_o.workers);
    sleepSeconds(seconds);
    setPhase(Phase::Idle);
    drain(m_o.drainSeconds);
    const Totals after = totals();
    const double span = static_cast<double>(after.atNs - before.atNs) / 1e9;
    const std::uint64_t delivered = after.delivered - before.delivered;
    const std::uint64_t expected = after.expected - before.expected;
    const std::uint64_t lost = expected > delivered ? expected - delivered : 0;
    HistogramSnapshot h = after.latency[0];
    h.subtract(before.latency[0]);
    const double p99 = static_cast<double>(h.percentile(99)) / 1e6;
    achieved = span > 0 ? static_cast<double>(delivered) / span : 0;
    const double serverCpu = static_cast<double>(after.serverCpuNs - before.serverCpuNs) / 1e3;
    const double loadgenCpu = static_cast<double>(after.loadgenCpuNs - before.loadgenCpuNs) / 1e3;
    const bool keptUp = achieved >= 0.9 * targetDeliveries;
    const bool ok = delivered > 0 && lost == 0 && p99 <= m_o.p99LimitMs && keptUp;
    j.open()
        .num("targetDeliveriesPerS", targetDeliveries)
        .num("sendsPerS", sendRate)
        .num("seconds", span)
        .num("sent", static_cast<double>(after.sent - before.sent))
        .num("expected", static_cast<double>(expected))
        .num("delivered", static_cast<double>(delivered))
        .num("lost", static_cast<double>(lost))
        .num("skipped", static_cast<double>(after.skipped - before.skipped))
        .num("errors", static_cast<double>(after.errors - before.errors))
        .num("disconnected", static_cast<double>(after.disconnected - before.disconnected))
        .num("deliveriesPerS", achieved)
        .num("serverCpuUsPerDelivery", delivered ? serverCpu / static_cast<double>(delivered) : 0)
        .num("serverCpuPercent", span > 0 ? serverCpu / 1e4 / span : 0)
        .num("loadgenCpuUsPerDelivery", delivered ? loadgenCpu / static_cast<double>(delivered) : 0)
        .num("serverRssKb", static_cast<double>(rssKb(m_serverPids)));
    latencyJson(j, "latencyMs", h, after.stepMax[0]);
    j.boolean("ok", ok).close();
    std::fprintf(stderr,
                 "  step %8.0f deliveries/s: got %9.0f/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  lost %" PRIu64
                 "  cpu %.2f us/delivery%s\n",
                 targetDeliveries, achieved, static_cast<double>(h.percentile(50)) / 1e6, p99,
                 static_cast<double>(after.stepMax[0]) / 1e6, lost,
                 delivered ? serverCpu / static_cast<double>(delivered) : 0.0, ok ? "" : "  (limit)");
    if (lost)
        m_problems.push_back("lost " + std::to_string(lost) + " deliveries at " + std::to_string(static_cast<long>(targetDeliveries)) + "/s");
    return ok;
}

int Coordinator::run()
{
    Json j;
    j.open().str("scenario", m_o.scenario).num("serverPid", m_serverPids.empty() ? 0 : m_serverPids.front());
    j.num("port", m_o.port).num("instances", m_o.ports.empty() ? 1 : static_cast<double>(m_o.ports.size()));
    j.str("split", m_o.ports.size() > 1 ? (m_o.splitMembers ? "members" : "rooms") : "none");
    const Machine host = machine();
    j.str("command", m_o.commandLine);
    j.open("machine").num("cpus", static_cast<double>(host.cpus)).str("cpuModel", host.cpuModel).close();
    j.num("listenBacklog", static_cast<double>(listenBacklog(m_o.port)));
    j.open("config")
        .num("clients", m_o.clients)
        .num("roomSize", m_o.roomSize)
        .num("workers", m_o.workers)
        .num("inflight", m_o.inflight)
        .num("payloadBytes", m_o.payloadBytes)
        .close();
    const long baseline = rssKb(m_serverPids);
    j.num("baselineRssKb", static_cast<double>(baseline));
    startWorkers();
    bool working = true;
    std::uint64_t deliveredTotal = 0;

    if (m_o.scenario == "idle") {
        std::vector<int> points = m_o.checkpoints;
        points.push_back(m_o.clients);
        std::sort(points.begin(), points.end());
        points.erase(std::unique(points.begin(), points.end()), points.end());
        j.openArray("memory");
        j.open().num("connections", 0).num("rssKb", static_cast<double>(baseline)).close();
        const Totals start = totals();
        for (const int p : points) {
            if (p > m_o.clients)
                break;
            connectUpTo(p, m_o.connectTimeoutS + 60);
            sleepSeconds(m_o.settleSeconds);
            const Totals t = totals();
            const long rss = rssKb(m_serverPids);
            std::fprintf(stderr, "  %" PRIu64 " joined: server RSS %ld kB\n", t.joined, rss);
            j.open().num("connections", static_cast<double>(t.joined)).num("rssKb", static_cast<double>(rss)).close();
        }
        j.closeArray();
        const Totals end = totals();
        const long rss = rssKb(m_serverPids);
        j.num("rssKb", static_cast<double>(rss))
            .num("joined", static_cast<double>(end.joined))
            .num("bytesPerConnection",
                 end.joined ? static_cast<double>(rss - baseline) * 1024.0 / static_cast<double>(end.joined) : 0);
        connectJson(j, start, end);
        working = end.joined > 0;
    } else if (m_o.scenario == "storm") {
        const Totals start = totals();
        connectUpTo(m_o.clients, m_o.connectTimeoutS + 60);
        const Totals end = totals();
        connectJson(j, start, end);
        j.num("rssKb", static_cast<double>(rssKb(m_serverPids)));
        working = end.joined > 0;
    } else if (m_o.scenario == "fanout" || m_o.scenario == "latency") {
        const Totals start = totals();
        connectUpTo(m_o.clients, m_o.connectTimeoutS + 60);
        const Totals joined = totals();
        connectJson(j, start, joined);
        working = joined.joined > 0;
        double sustained = 0;
        if (working) {
            j.openArray("steps");
            for (const double rate : m_o.rates) {
                double achieved = 0;
                const bool ok = trafficStep(j, rate, m_o.stepSeconds, achieved);
                if (ok)
                    sustained = std::max(sustained, achieved);
                // The ramp stops at its first failed step, but not below
                // --always-to: those steps are the equal-load comparison.
                if (!ok && m_o.scenario == "fanout" && rate >= m_o.alwaysTo)
                    break;
                // A step the server fell behind in leaves deliveries in
                // flight (counted lost above); let them arrive before the
                // next step, so it starts from an idle server.
                if (!ok)
                    drain(60);
            }
            j.closeArray();
        }
        const Totals end = totals();
        deliveredTotal = end.delivered;
        j.num("sustainedDeliveriesPerS", sustained);
        working = working && deliveredTotal > 0;
    } else if (m_o.scenario == "clinic") {
        const Totals start = totals();
        connectUpTo(m_o.clients, m_o.connectTimeoutS + 60);
        const Totals joined = totals();
        connectJson(j, start, joined);
        const int rooms = m_o.clients / m_o.roomSize;
        const double chatPerS = m_o.chatIntervalS > 0 ? static_cast<double>(m_o.clients) / m_o.chatIntervalS : 0;
        const double steady = chatPerS + m_o.whiteboardRate * rooms;
        m_control->stepMaxEpoch.fetch_add(1, std::memory_order_release);
        sleepSeconds(0.01);
        const Totals before = totals();
        std::fprintf(stderr, "  clinic: %d rooms, %.0f steady messages/s for %.0f s\n", rooms, steady, m_o.durationS);
        setPhase(Phase::Signal, steady / m_o.workers);
        sleepSeconds(m_o.durationS);
        setPhase(Phase::Idle);
        drain(m_o.drainSeconds);
        const Totals after = totals();
        const double span = static_cast<double>(after.atNs - before.atNs) / 1e9;
        const std::uint64_t delivered = after.delivered - before.delivered;
        const std::uint64_t expected = after.expected - before.expected;
        const std::uint64_t lost = expected > delivered ? expected - delivered : 0;
        HistogramSnapshot traffic = after.latency[0];
        traffic.subtract(before.latency[0]);
        HistogramSnapshot signalling = after.latency[1];
        signalling.subtract(before.latency[1]);
        HistogramSnapshot all = traffic;
        for (int i = 0; i < Histogram::kBuckets; ++i)
            all.buckets[i] += signalling.buckets[i];
        all.count += signalling.count;
        all.sum += signalling.sum;
        const double serverCpu = static_cast<double>(after.serverCpuNs - before.serverCpuNs) / 1e3;
        j.open("clinic")
            .num("rooms", rooms)
            .num("seconds", span)
            .num("steadyMessagesPerS", steady)
            .num("sent", static_cast<double>(after.sent - before.sent))
            .num("expected", static_cast<double>(expected))
            .num("delivered", static_cast<double>(delivered))
            .num("lost", static_cast<double>(lost))
            .num("errors", static_cast<double>(after.errors - before.errors))
            .num("disconnected", static_cast<double>(after.disconnected - before.disconnected))
            .num("skipped", static_cast<double>(after.skipped - before.skipped))
            .num("deliveriesPerS", span > 0 ? static_cast<double>(delivered) / span : 0)
            .num("serverCpuUsPerDelivery", delivered ? serverCpu / static_cast<double>(delivered) : 0)
            .num("serverCpuPercent", span > 0 ? serverCpu / 1e4 / span : 0)
            .num("serverRssKb", static_cast<double>(rssKb(m_serverPids)));
        latencyJson(j, "latencyMs", all, std::max(after.stepMax[0], after.stepMax[1]));
        latencyJson(j, "signallingLatencyMs", signalling, after.stepMax[1]);
        latencyJson(j, "trafficLatencyMs", traffic, after.stepMax[0]);
        j.boolean("zeroLoss", lost == 0 && expected > 0).close();
        std::fprintf(stderr, "  clinic: delivered %" PRIu64 "/%" PRIu64 ", p99 %.2f ms, signalling p99 %.2f ms\n",
                     delivered, expected, static_cast<double>(all.percentile(99)) / 1e6,
                     static_cast<double>(signalling.percentile(99)) / 1e6);
        if (lost)
            m_problems.push_back("clinic lost " + std::to_string(lost) + " deliveries");
        deliveredTotal = delivered;
        working = joined.joined > 0 && delivered > 0;
    } else {
        usage("unknown scenario");
    }

    const Totals final = totals();
    const std::string err = firstError();
    if (final.connectFailed)
        m_problems.push_back(std::to_string(final.connectFailed) + " clients failed to connect or join");
    if (final.errors)
        m_problems.push_back(std::to_string(final.errors) + " error replies");
    if (final.disconnected)
        m_problems.push_back(std::to_string(final.disconnected) + " clients lost after joining");
    stopWorkers();
    j.str("firstError", err);
    j.str("firstErrorReply", firstError(true));
    j.openArray("problems");
    for (const auto &p : m_problems)
        j.str(nullptr, p);
    j.closeArray();
    const bool lossy = !m_problems.empty()
                    && std::any_of(m_problems.begin(), m_problems.end(),
                                   [](const std::string &p) { return p.find("lost") != std::string::npos; });
    j.boolean("working", working).close();

    if (m_o.jsonPath.empty()) {
        std::printf("%s\n", j.text().c_str());
    } else {
        std::ofstream f(m_o.jsonPath);
        f << j.text() << '\n';
    }
    if (!err.empty())
        std::fprintf(stderr, "  first error: %s\n", err.c_str());
    if (!working) {
        std::fprintf(stderr, "medrelay-loadgen: the run did not work (no clients joined or nothing delivered)\n");
        return 2;
    }
    if (m_o.failOnLoss && (lossy || final.connectFailed || final.disconnected)) {
        std::fprintf(stderr, "medrelay-loadgen: loss or failed clients\n");
        return 3;
    }
    return 0;
}

int runRelay(int argc, char **argv)
{
    std::string host = "127.0.0.1";
    int port = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--host")
            host = argv[i + 1];
        else if (a == "--port")
            port = std::atoi(argv[i + 1]);
        else
            usage(("unknown relay option " + a).c_str());
    }
    TrivialRelay relay(host, static_cast<std::uint16_t>(port));
    return relay.run();
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        usage(nullptr);
    const std::string mode = argv[1];
    if (mode == "relay")
        return runRelay(argc, argv);
    if (mode != "run")
        usage("the first argument must be 'run' or 'relay'");
    Options o = parseOptions(argc, argv, 2);

    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    const auto perWorker = static_cast<rlim_t>(o.clients / o.workers + 64);
    if (perWorker > lim.rlim_cur) {
        std::fprintf(stderr,
                     "medrelay-loadgen: %d clients over %d workers need ~%llu descriptors each; the limit is %llu. "
                     "Use more --workers.\n",
                     o.clients, o.workers, static_cast<unsigned long long>(perWorker),
                     static_cast<unsigned long long>(lim.rlim_cur));
        return 64;
    }

    Spawned server;
    std::vector<int> serverPids = o.serverPids;
    if (serverPids.empty() && o.serverPid > 0)
        serverPids.push_back(o.serverPid);
    if (!o.spawn.empty()) {
        server = spawnServer(o.spawn);
        if (server.pid <= 0 || server.port <= 0) {
            stopServer(server);
            return 2;
        }
        o.port = server.port;
        serverPids.insert(serverPids.begin(), server.pid);
    }
    if (o.port <= 0)
        usage("--port or a server command is required");
    int rc = 0;
    {
        Coordinator c(o, serverPids);
        rc = c.run();
    }
    if (server.pid > 0) {
        const int serverRc = stopServer(server);
        if (serverRc != 0) {
            std::fprintf(stderr, "medrelay-loadgen: the server exited with status %d\n", serverRc);
            if (rc == 0)
                rc = 4;
        }
    }
    return rc;
}
