<?php

declare(strict_types=1);

use LicenseCM\LicenseCMClient;
use LicenseCM\LicenseCMException;
use PHPUnit\Framework\TestCase;

/** The client against a stand-in server (tests/fake_server.php under `php -S`). */
final class ClientTest extends TestCase
{
    private static $process;
    private static string $url;
    private static string $state;

    public static function setUpBeforeClass(): void
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($socket, false), ':'), 1);
        fclose($socket);
        self::$state = tempnam(sys_get_temp_dir(), 'licensecm-fake');
        self::$url = "http://127.0.0.1:{$port}";
        self::$process = proc_open([PHP_BINARY, '-S', "127.0.0.1:{$port}", __DIR__ . '/fake_server.php'],
            [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes, null,
            ['FAKE_STATE' => self::$state, 'PHP_CLI_SERVER_WORKERS' => '1']);
        for ($i = 0; $i < 100 && !@fsockopen('127.0.0.1', $port); $i++) {
            usleep(50000);
        }
    }

    public static function tearDownAfterClass(): void
    {
        proc_terminate(self::$process);
        proc_close(self::$process);
        @unlink(self::$state);
    }

    protected function setUp(): void
    {
        file_put_contents(self::$state, json_encode(['tokens' => [], 'posts' => 0, 'suspended' => false, 'tamper' => null]));
    }

    private static function set(string $name, $value): void
    {
        $state = json_decode((string) file_get_contents(self::$state), true);
        $state[$name] = $value;
        file_put_contents(self::$state, json_encode($state));
    }

    private static function posts(): int
    {
        return json_decode((string) file_get_contents(self::$state), true)['posts'];
    }

    private function client(string $secret = 'sk_live_test_secret'): LicenseCMClient
    {
        return (new LicenseCMClient(self::$url, '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b', $secret))
            ->setAutoHeartbeat(false)->setHwid('device-1');
    }

    private function refused(callable $call): LicenseCMException
    {
        try {
            $call();
        } catch (LicenseCMException $e) {
            return $e;
        }
        $this->fail('no LicenseCMException');
    }

    public function testLifecyclePlainAndEncrypted(): void
    {
        foreach ([false, true] as $encrypted) {
            $violations = [];
            $client = $this->client()->setUseEncryption($encrypted)
                ->setOnSecurityViolation(function (array $d) use (&$violations): void {
                    $violations[] = $d;
                });
            $client->activate('GOOD-KEY');
            $first = $client->getSessionToken();
            $this->assertTrue($client->validate()['valid']);
            $beat = $client->heartbeat();
            $this->assertSame($beat['new_token'], $client->getSessionToken());
            $this->assertNotSame($first, $client->getSessionToken());
            $this->assertTrue($client->deactivate()['deactivated']);
            $this->assertNull($client->getSessionToken());
            $this->assertSame('NOT_ACTIVATED', $this->refused(fn () => $client->heartbeat())->getErrorCode());
            $this->assertSame([], $violations);
        }
    }

    public function testRefusalCarriesCodeAndStatus(): void
    {
        $e = $this->refused(fn () => $this->client()->validate('BAD-KEY'));
        $this->assertSame(['LICENSE_NOT_FOUND', 404], [$e->getErrorCode(), $e->getStatus()]);
    }

    public function testTamperedOrUnsignedAnswersAreRefused(): void
    {
        foreach (['change', 'unsigned'] as $tamper) {
            self::set('tamper', $tamper);
            $sources = [];
            $client = $this->client()->setOnSecurityViolation(function (array $d) use (&$sources): void {
                $sources[] = $d['source'];
            });
            $e = $this->refused(fn () => $client->validate('GOOD-KEY'));
            $this->assertSame(['SECURITY_VIOLATION', 0], [$e->getErrorCode(), $e->getStatus()], $tamper);
            $this->assertSame(['client'], $sources);
        }
    }

    public function testAPinnedKeyThatDiffersStopsEveryRequest(): void
    {
        $client = $this->client()->setPinnedKeyId('0000000000000000');
        $this->assertSame('SECURITY_VIOLATION', $this->refused(fn () => $client->initialize())->getErrorCode());
        $this->assertSame('SECURITY_VIOLATION', $this->refused(fn () => $client->activate('GOOD-KEY'))->getErrorCode());
        $this->assertSame(0, self::posts());
        $pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
        $this->assertTrue($this->client()->setPinnedPublicKey($pem)->activate('GOOD-KEY')['activated']);
    }

    public function testAWrongSecretIsTheServersViolation(): void
    {
        $sources = [];
        $client = $this->client('sk_live_wrong')->setUseEncryption(true)
            ->setOnSecurityViolation(function (array $d) use (&$sources): void {
                $sources[] = $d['source'];
            });
        $e = $this->refused(fn () => $client->activate('GOOD-KEY'));
        $this->assertSame(['SECURITY_VIOLATION', 403, ['server']], [$e->getErrorCode(), $e->getStatus(), $sources]);
    }

    public function testTheHeartbeatRotatesAndASuspensionEndsTheSessionOnce(): void
    {
        $expired = 0;
        $client = $this->client()->setAutoHeartbeat(true)->setHeartbeatInterval(0.05)
            ->setOnSessionExpired(function () use (&$expired): void {
                $expired++;
            });
        $client->activate('GOOD-KEY');
        $seen = [$client->getSessionToken() => true];
        for ($deadline = microtime(true) + 3; count($seen) < 3 && microtime(true) < $deadline;) {
            usleep(20000);
            $client->tick();
            $seen[$client->getSessionToken()] = true;
        }
        $this->assertGreaterThanOrEqual(3, count($seen));
        self::set('suspended', true);
        for ($deadline = microtime(true) + 3; $expired === 0 && microtime(true) < $deadline;) {
            usleep(20000);
            $client->tick();
        }
        $client->tick();
        $this->assertSame(1, $expired);
        $this->assertNull($client->getSessionToken());
        $this->assertFalse($client->isHeartbeatRunning());
    }

    public function testNoAnswerIsANetworkError(): void
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $address = stream_socket_get_name($socket, false);
        fclose($socket);
        $client = new LicenseCMClient("http://{$address}", 'p');
        $this->assertSame('NETWORK_ERROR', $this->refused(fn () => $client->initialize())->getErrorCode());
    }
}
