<?php

declare(strict_types=1);

use LicenseCM\EnvelopeException;
use LicenseCM\Hwid;
use LicenseCM\Protocol;
use PHPUnit\Framework\TestCase;

/** The conformance vectors (sdk/conformance/vectors), made by KeyLedger's own code. */
final class VectorsTest extends TestCase
{
    private static function load(string $name): stdClass
    {
        return json_decode((string) file_get_contents(__DIR__ . '/../../conformance/vectors/' . $name), false, 512,
            JSON_THROW_ON_ERROR);
    }

    public function testCanonicalJson(): void
    {
        foreach (self::load('canonical.json')->cases as $case) {
            $this->assertSame($case->canonical, Protocol::canonicalJson(json_decode($case->input, false)), $case->name);
        }
    }

    public function testSignedAnswers(): void
    {
        $file = self::load('answers.json');
        $expect = $file->expect;
        foreach ($file->keys as $name => $key) {
            $this->assertSame($key->key_id, Protocol::keyId($key->public_key), $name);
        }
        foreach ($file->cases as $case) {
            $key = $file->keys->{$case->key};
            $this->assertSame($case->signature_valid, Protocol::verifyAnswerSignature($key->public_key, $case->data), $case->name);
            $reason = Protocol::checkAnswer($key->public_key, $key->key_id, $case->data, $expect->nonce, $expect->now_ms,
                $expect->max_skew_ms, (array) $expect);
            $this->assertSame($case->accepted, $reason === null, $case->name . ': ' . $reason);
        }
    }

    public function testEnvelopes(): void
    {
        $file = self::load('envelopes.json');
        foreach ($file->open as $case) {
            try {
                $opened = Protocol::openEnvelope($file->secret, $case->envelope, $case->now_ms);
                $this->assertTrue($case->opens, $case->name . ' should be refused');
                $this->assertEquals($case->plaintext, $opened, $case->name);
            } catch (EnvelopeException $e) {
                $this->assertFalse($case->opens, $case->name . ': ' . $e->getMessage());
            }
        }
        foreach ($file->seal as $case) {
            $sealed = Protocol::sealBytes($case->secret, $case->product_id, $case->plaintext, $case->timestamp, hex2bin($case->iv));
            $this->assertSame((array) $case->envelope, $sealed, $case->name);
        }
    }

    public function testChallengeResponses(): void
    {
        foreach (self::load('challenges.json')->cases as $case) {
            $this->assertSame($case->response, Protocol::challengeResponse($case->secret, $case->challenge, $case->license_key,
                $case->hwid), $case->name);
        }
    }

    public function testHwid(): void
    {
        foreach (self::load('hwid.json')->cases as $case) {
            $this->assertSame($case->hwid, Hwid::fromMachineId($case->machine_id));
        }
        $this->assertMatchesRegularExpression('/^[0-9a-f]{64}$/', Hwid::get());
        $this->assertSame(Hwid::get(), Hwid::get());
    }
}
