// What survives kill -9: the real server with encrypted history in a data
// directory is killed mid-consultation and started again on the same
// directory. Every acknowledged message is still there for a client that
// resumes, seq continues where it stopped, a retry of an acknowledged message
// is not relayed twice, and the history files hold no plaintext.

#include "ServerBinary.h"
#include "TestClient.h"

#include <QDirIterator>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

using namespace medrelay::test;
using namespace Qt::StringLiterals;

namespace {

// Words no database page or header would hold by chance.
const QString kSecretWord = u"zebracrossing-4417-pancreatitis"_s;

QJsonObject join(qint64 user, std::optional<qint64> lastSeq = std::nullopt)
{
    QJsonObject m{{u"type"_s, u"telemedicine_user_joined"_s},
                  {u"roomId"_s, u"appointment_9"_s},
                  {u"appointmentId"_s, 9},
                  {u"userId"_s, static_cast<double>(user)},
                  {u"userName"_s, u"User %1"_s.arg(user)}};
    if (lastSeq)
        m.insert(u"lastSeq"_s, static_cast<double>(*lastSeq));
    return m;
}

QJsonObject chat(int n)
{
    return {{u"type"_s, u"telemedicine_chat_message"_s},
            {u"roomId"_s, u"appointment_9"_s},
            {u"appointmentId"_s, 9},
            {u"message"_s, u"%1 number %2"_s.arg(kSecretWord).arg(n)},
            {u"clientMessageId"_s, u"m-%1"_s.arg(n)}};
}

QList<int> seqsOf(const TestClient &c, const QString &type)
{
    QList<int> out;
    for (const QJsonObject &m : c.received()) {
        if (m.value("type"_L1).toString() == type)
            out.append(m.value("seq"_L1).toInt());
    }
    return out;
}

} // namespace

class TestDurability final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void acknowledgedMessagesSurviveKill9();
    void historyFilesHoldNoPlaintext();
    void wrongKeyIsRefused();

private:
    QTemporaryDir m_dir;
    QString m_dataDir;
    QString m_keyFile;
    QStringList args() const
    {
        return {u"--data-dir"_s, m_dataDir, u"--history-key-file"_s, m_keyFile, u"--resume-grace"_s, u"30"_s};
    }
};

void TestDurability::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_dataDir = m_dir.filePath(u"data"_s);
    m_keyFile = m_dir.filePath(u"history.key"_s);
    QFile key(m_keyFile);
    QVERIFY(key.open(QIODevice::WriteOnly));
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), 8);
    key.write(bytes);
    key.close();
    QVERIFY(QFile::setPermissions(m_keyFile, QFile::ReadOwner | QFile::WriteOwner));
}

void TestDurability::acknowledgedMessagesSurviveKill9()
{
    ServerBinary server;
    QVERIFY2(server.start(args()), qPrintable(server.error()));
    TestClient doctor, patient;
    QVERIFY(doctor.open(server.wsUrl()));
    QVERIFY(patient.open(server.wsUrl()));
    doctor.send(join(1));
    QVERIFY(doctor.waitFor(u"room_state"_s));
    patient.send(join(2));
    QVERIFY(patient.waitFor(u"room_state"_s));
    for (int i = 1; i <= 20; ++i)
        doctor.send(chat(i));
    // Acknowledged means durable.
    QTRY_COMPARE_WITH_TIMEOUT(seqsOf(doctor, u"ack"_s).size(), 20, 10000);
    QCOMPARE(seqsOf(doctor, u"ack"_s).last(), 20);
    QTRY_COMPARE(seqsOf(patient, u"telemedicine_chat_message"_s).size(), 20);

    server.kill();
    QVERIFY(patient.waitDisconnected());
    QVERIFY(doctor.waitDisconnected());

    ServerBinary again;
    QVERIFY2(again.start(args()), qPrintable(again.error()));
    // The patient had seen up to 5 (say its screen was off); it resumes.
    TestClient patientBack, doctorBack;
    QVERIFY(patientBack.open(again.wsUrl()));
    patientBack.send(join(2, 5));
    const auto state = patientBack.waitFor(u"room_state"_s);
    QVERIFY(state);
    QCOMPARE(state->value("lastSeq"_L1).toInt(), 20);
    QTRY_COMPARE_WITH_TIMEOUT(seqsOf(patientBack, u"telemedicine_chat_message"_s).size(), 15, 10000);
    QList<int> expected;
    for (int i = 6; i <= 20; ++i)
        expected.append(i);
    QCOMPARE(seqsOf(patientBack, u"telemedicine_chat_message"_s), expected);

    // seq continues; a retry of an acknowledged message gets its old seq and
    // is not relayed again.
    QVERIFY(doctorBack.open(again.wsUrl()));
    doctorBack.send(join(1));
    QVERIFY(doctorBack.waitFor(u"room_state"_s));
    doctorBack.send(chat(20));
    doctorBack.send(chat(21));
    QTRY_COMPARE(seqsOf(doctorBack, u"ack"_s).size(), 2);
    QCOMPARE(seqsOf(doctorBack, u"ack"_s), (QList<int>{20, 21}));
    QTRY_COMPARE(seqsOf(patientBack, u"telemedicine_chat_message"_s).size(), 16);
    QCOMPARE(seqsOf(patientBack, u"telemedicine_chat_message"_s).last(), 21);
    again.stop();
}

void TestDurability::historyFilesHoldNoPlaintext()
{
    // The files the first test left (its server killed, the second stopped).
    int files = 0;
    qint64 bytes = 0;
    QDirIterator it(m_dataDir, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QFile f(it.next());
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray content = f.readAll();
        ++files;
        bytes += content.size();
        QVERIFY2(!content.contains(kSecretWord.toUtf8()), qPrintable(f.fileName()));
        QVERIFY2(!content.contains("User 1"), qPrintable(f.fileName()));
    }
    QVERIFY(QFile::exists(m_dataDir + u"/history.db"_s));
    QVERIFY(files >= 2);
    QVERIFY(bytes > 0);
}

void TestDurability::wrongKeyIsRefused()
{
    const QString otherKey = m_dir.filePath(u"other.key"_s);
    QFile key(otherKey);
    QVERIFY(key.open(QIODevice::WriteOnly));
    key.write(QByteArray(32, 'x'));
    key.close();
    QFile::setPermissions(otherKey, QFile::ReadOwner | QFile::WriteOwner);
    ServerBinary server;
    QVERIFY(!server.start({u"--data-dir"_s, m_dataDir, u"--history-key-file"_s, otherKey}, 5000));
    QVERIFY2(server.output().contains(u"key does not match"_s), qPrintable(server.output()));
}

QTEST_MAIN(TestDurability)
#include "tst_durability.moc"
