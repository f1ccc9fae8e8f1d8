"""Narration audio from a narration script.

Offline by default with eSpeak NG: the library and its voices come from the ``espeakng-loader`` wheel
(or Debian's ``espeak-ng`` program when that is installed); the speech is encoded as MP3 with LAME
(``lameenc``) so a course's audio stays small enough to pack into every export. With
``COURSEGEN_TTS_URL`` (an OpenAI-compatible server's base URL, e.g. ``http://127.0.0.1:8000/v1``) and
``COURSEGEN_TTS_MODEL`` set, the script is sent to its ``/audio/speech`` endpoint instead.

When no engine is available ``synthesize`` returns None: the course keeps the script and says there is
no audio.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

MAX_SCRIPT_CHARS = 4000
"""Longer scripts are cut: narration is a few minutes per module at most."""


class SpeechSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COURSEGEN_TTS_", extra="ignore")

    url: str | None = None
    """Base URL of an OpenAI-compatible API (``…/v1``); unset: eSpeak NG offline."""
    model: str | None = None
    voice: str = "alloy"
    api_key: str | None = None
    espeak_voice: str = "en-us"
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class Speech:
    data: bytes
    mime: str
    engine: str


class SpeechError(RuntimeError):
    """The configured speech endpoint failed."""


# --- eSpeak NG through the library of the espeakng-loader wheel -------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """The eSpeak NG library, initialized once per process; it is not thread-safe, so calls take a lock."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self.lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise OSError("eSpeak NG did not initialize")
        self.sample_rate = int(rate)
        self.lock = threading.Lock()
        self._chunks: list[bytes] = []

        def collect(samples: Any, count: int, events: Any) -> int:
            if samples and count > 0:
                self._chunks.append(ctypes.string_at(samples, count * 2))
            return 0

        self._callback = _CALLBACK(collect)  # kept referenced: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def pcm(self, text: str, voice: str) -> bytes:
        """16-bit mono samples at ``sample_rate``."""
        data = text.encode("utf-8") + b"\0"
        with self.lock:
            self._chunks = []
            self.lib.espeak_SetVoiceByName(voice.encode())
            self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            return b"".join(self._chunks)


_espeak: _Espeak | None = None
_espeak_failed = False
_espeak_guard = threading.Lock()


def _library() -> _Espeak | None:
    global _espeak, _espeak_failed
    with _espeak_guard:
        if _espeak is None and not _espeak_failed:
            try:
                _espeak = _Espeak()
            except (ImportError, OSError, AttributeError) as exc:
                log.info("eSpeak NG library unavailable: %s", exc)
                _espeak_failed = True
        return _espeak


def _program_pcm(text: str, voice: str) -> tuple[bytes, int] | None:
    """Debian's espeak-ng program, when the wheel's library cannot be used."""
    program = shutil.which("espeak-ng")
    if program is None:
        return None
    done = subprocess.run([program, "-v", voice, "--stdout"], input=text.encode(), capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        return None
    with wave.open(BytesIO(done.stdout)) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def _mp3(pcm: bytes, sample_rate: int) -> bytes:
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(5)
    return bytes(encoder.encode(pcm) + encoder.flush())


def espeak_speech(text: str, voice: str = "en-us") -> Speech | None:
    """The text spoken by eSpeak NG as MP3, or None when eSpeak NG is not to be had here."""
    engine = _library()
    if engine is not None:
        pcm, rate, name = engine.pcm(text, voice), engine.sample_rate, "espeak-ng"
    else:
        found = _program_pcm(text, voice)
        if found is None:
            return None
        (pcm, rate), name = found, "espeak-ng (program)"
    if not pcm:
        return None
    return Speech(data=_mp3(pcm, rate), mime="audio/mpeg", engine=name)


async def endpoint_speech(text: str, settings: SpeechSettings) -> Speech:
    """The text spoken by an OpenAI-compatible ``/audio/speech`` endpoint."""
    assert settings.url and settings.model
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    body = {"model": settings.model, "input": text, "voice": settings.voice, "response_format": "mp3"}
    try:
        async with httpx.AsyncClient(timeout=settings.timeout_seconds) as client:
            response = await client.post(f"{settings.url.rstrip('/')}/audio/speech", json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise SpeechError(f"speech endpoint {settings.url} unreachable: {exc}") from exc
    if response.status_code != 200 or not response.content:
        raise SpeechError(f"speech endpoint {settings.url} answered {response.status_code}: {response.text[:200]}")
    mime = response.headers.get("content-type", "audio/mpeg").split(";")[0].strip() or "audio/mpeg"
    return Speech(data=response.content, mime=mime, engine=f"{settings.model} at {settings.url}")


async def synthesize(script: str, settings: SpeechSettings | None = None) -> Speech | None:
    """Narration audio for a script: the configured endpoint, else eSpeak NG; None when neither can speak."""
    settings = settings or SpeechSettings()
    text = " ".join(script.split())[:MAX_SCRIPT_CHARS]
    if not text:
        return None
    if settings.url and settings.model:
        return await endpoint_speech(text, settings)
    return await asyncio.to_thread(espeak_speech, text, settings.espeak_voice)
