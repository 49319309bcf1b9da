"""loom from Python, through its C API (loom/c.h) and ctypes: no build step, no compiled module.

    import loom
    m = loom.Model("models/stories260K")
    print(m.generate("Once upon a time", max_tokens=32))
    for piece in m.stream("Once upon a time", max_tokens=32):
        print(piece, end="", flush=True)

The shared library is found, in order, at $LOOM_LIBRARY, in the lib folder of the prefix this
module is installed in, in the build folders of the source tree it sits in (build/, build-*/),
and on the system's library path.
"""

import ctypes
import ctypes.util
import glob
import os
import queue
import threading

__all__ = ["Error", "Model", "Session", "Sampler", "ChatTemplate", "version"]


class Error(RuntimeError):
    """A failure reported by loom; .status is the loom_status code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


# loom_status codes (loom/c.h).
OK, INVALID_ARGUMENT, BUFFER_TOO_SMALL, LOAD, CONTEXT_FULL, RUNTIME, OUT_OF_MEMORY = range(7)


def _library_candidates():
    env = os.environ.get("LOOM_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    # Installed: PREFIX/lib/python3/dist-packages/loom -> PREFIX/lib (and lib/<multiarch>).
    lib = os.path.normpath(os.path.join(here, "..", "..", ".."))
    yield from sorted(glob.glob(os.path.join(lib, "libloom.so*")))
    yield from sorted(glob.glob(os.path.join(lib, "*", "libloom.so*")))
    # In the source tree: python/loom -> the repository's build folders.
    root = os.path.normpath(os.path.join(here, "..", ".."))
    for build in ["build"] + sorted(glob.glob(os.path.join(root, "build-*"))):
        yield from sorted(glob.glob(os.path.join(root, build, "libloom.so*")))
    found = ctypes.util.find_library("loom")
    if found:
        yield found


def _load_library():
    tried = []
    for path in _library_candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError(
        "loom: cannot find libloom.so (build loom, install it, or set LOOM_LIBRARY)"
        + ("; tried " + "; ".join(tried) if tried else "")
    )


_lib = _load_library()
_c_int, _c_i32, _c_size = ctypes.c_int, ctypes.c_int32, ctypes.c_size_t
_p = ctypes.c_void_p


class _ModelOptions(ctypes.Structure):
    _fields_ = [("quantize", ctypes.c_char_p), ("quant_cache", _c_int)]


class _SessionOptions(ctypes.Structure):
    _fields_ = [("ctx_size", _c_i32), ("threads", _c_i32)]


class _SamplerParams(ctypes.Structure):
    _fields_ = [
        ("temperature", ctypes.c_float),
        ("top_k", _c_i32),
        ("top_p", ctypes.c_float),
        ("min_p", ctypes.c_float),
        ("repeat_penalty", ctypes.c_float),
        ("repeat_last_n", _c_i32),
        ("seed", ctypes.c_uint64),
    ]


class _GenerateOptions(ctypes.Structure):
    _fields_ = [("max_tokens", _c_i32), ("ignore_eos", _c_int), ("sampling", _SamplerParams)]


class _ChatMessage(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


_TokenCallback = ctypes.CFUNCTYPE(_c_int, _c_i32, ctypes.POINTER(ctypes.c_char), _c_size, _p)


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


_version = _fn("loom_version", ctypes.c_char_p)
_last_error = _fn("loom_last_error", ctypes.c_char_p)
_model_default_options = _fn("loom_model_default_options", _ModelOptions)
_model_load = _fn("loom_model_load", _c_int, ctypes.c_char_p, ctypes.POINTER(_ModelOptions),
                  ctypes.POINTER(_p))
_model_free = _fn("loom_model_free", None, _p)
_model_n_vocab = _fn("loom_model_n_vocab", _c_i32, _p)
_model_n_ctx_train = _fn("loom_model_n_ctx_train", _c_i32, _p)
_model_is_eos = _fn("loom_model_is_eos", _c_int, _p, _c_i32)
_tokenize = _fn("loom_tokenize", _c_int, _p, ctypes.c_char_p, _c_size, _c_int,
                ctypes.POINTER(_c_i32), _c_size, ctypes.POINTER(_c_size))
_detokenize = _fn("loom_detokenize", _c_int, _p, ctypes.POINTER(_c_i32), _c_size, _c_int,
                  ctypes.c_char_p, _c_size, ctypes.POINTER(_c_size))
_chat_from_model = _fn("loom_chat_template_from_model", _c_int, _p, ctypes.POINTER(_p))
_chat_create = _fn("loom_chat_template_create", _c_int, _p, ctypes.c_char_p, ctypes.POINTER(_p))
_chat_free = _fn("loom_chat_template_free", None, _p)
_chat_apply = _fn("loom_chat_apply", _c_int, _p, ctypes.POINTER(_ChatMessage), _c_size, _c_int,
                  ctypes.c_char_p, _c_size, ctypes.POINTER(_c_size))
_session_default_options = _fn("loom_session_default_options", _SessionOptions)
_session_create = _fn("loom_session_create", _c_int, _p, ctypes.POINTER(_SessionOptions),
                      ctypes.POINTER(_p))
_session_free = _fn("loom_session_free", None, _p)
_session_prefill = _fn("loom_session_prefill", _c_int, _p, ctypes.POINTER(_c_i32), _c_size,
                       ctypes.POINTER(ctypes.POINTER(ctypes.c_float)))
_session_decode = _fn("loom_session_decode", _c_int, _p, _c_i32,
                      ctypes.POINTER(ctypes.POINTER(ctypes.c_float)))
_session_position = _fn("loom_session_position", _c_i32, _p)
_session_truncate = _fn("loom_session_truncate", _c_int, _p, _c_i32)
_sampler_default_params = _fn("loom_sampler_default_params", _SamplerParams)
_sampler_create = _fn("loom_sampler_create", _c_int, _p, ctypes.POINTER(_SamplerParams),
                      ctypes.POINTER(_p))
_sampler_free = _fn("loom_sampler_free", None, _p)
_sampler_sample = _fn("loom_sampler_sample", _c_int, _p, ctypes.POINTER(ctypes.c_float), _c_i32,
                      ctypes.POINTER(_c_i32))
_generate_default_options = _fn("loom_generate_default_options", _GenerateOptions)
_generate = _fn("loom_generate", _c_int, _p, ctypes.POINTER(_c_i32), _c_size,
                ctypes.POINTER(_GenerateOptions), _TokenCallback, _p, ctypes.POINTER(_c_i32))


def _check(status):
    if status != OK:
        raise Error(status, _last_error().decode("utf-8", "replace"))


def _ids(tokens):
    tokens = list(tokens)
    return (_c_i32 * len(tokens))(*tokens), len(tokens)


def _text_call(fn, *args):
    """FN(*args, buf, capacity, n_out), growing the buffer once when it is too small."""
    n = _c_size()
    size = 256
    for _ in range(2):
        buf = ctypes.create_string_buffer(size)
        status = fn(*args, buf, size, ctypes.byref(n))
        if status != BUFFER_TOO_SMALL:
            _check(status)
            return buf.raw[: n.value].decode("utf-8", "replace")
        size = n.value + 1
    _check(status)


def version():
    """The loaded libloom's version, "MAJOR.MINOR.PATCH"."""
    return _version().decode()


def _sampler_params(temperature=None, top_k=None, top_p=None, min_p=None, repeat_penalty=None,
                    repeat_last_n=None, seed=None):
    p = _sampler_default_params()
    for name, value in [("temperature", temperature), ("top_k", top_k), ("top_p", top_p),
                        ("min_p", min_p), ("repeat_penalty", repeat_penalty),
                        ("repeat_last_n", repeat_last_n), ("seed", seed)]:
        if value is not None:
            setattr(p, name, value)
    return p


class _Handle:
    """Owns one C handle: freed by close(), by leaving a with-block, or when collected."""

    _free = None  # the loom_*_free function of the subclass's handle

    def close(self):
        if getattr(self, "_h", None):
            type(self)._free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Model(_Handle):
    """A model loaded from a Hugging Face folder or a GGUF file."""

    _free = _model_free

    def __init__(self, path, quantize=None, quant_cache=False):
        o = _model_default_options()
        o.quantize = quantize.encode() if quantize else None
        o.quant_cache = 1 if quant_cache else 0
        h = _p()
        _check(_model_load(os.fsencode(path), ctypes.byref(o), ctypes.byref(h)))
        self._h = h

    @property
    def n_vocab(self):
        return _model_n_vocab(self._h)

    @property
    def n_ctx_train(self):
        return _model_n_ctx_train(self._h)

    def is_eos(self, token):
        return bool(_model_is_eos(self._h, token))

    def tokenize(self, text, add_special=True):
        data = text.encode()
        n = _c_size()
        status = _tokenize(self._h, data, len(data), int(add_special), None, 0, ctypes.byref(n))
        if status != BUFFER_TOO_SMALL:
            _check(status)
        out = (_c_i32 * max(n.value, 1))()
        _check(_tokenize(self._h, data, len(data), int(add_special), out, n.value,
                         ctypes.byref(n)))
        return list(out[: n.value])

    def detokenize(self, tokens, skip_special=False):
        ids, n = _ids(tokens)
        return _text_call(_detokenize, self._h, ids, n, int(skip_special))

    def session(self, ctx_size=0, threads=0):
        return Session(self, ctx_size, threads)

    def chat_template(self, source=None):
        return ChatTemplate(self, source)

    def stream(self, prompt, max_tokens=128, ignore_eos=False, ctx_size=0, threads=0,
               **sampling):
        """Generates from PROMPT (text, or a list of token ids), yielding text as it becomes
        final. Sampling: temperature (0: greedy), top_k, top_p, min_p, repeat_penalty,
        repeat_last_n, seed; llama.cpp's defaults otherwise."""
        ids = self.tokenize(prompt) if isinstance(prompt, str) else list(prompt)
        s = Session(self, ctx_size, threads)
        yield from s.stream(ids, max_tokens, ignore_eos, **sampling)

    def generate(self, prompt, max_tokens=128, **kwargs):
        """stream()'s text, joined."""
        return "".join(self.stream(prompt, max_tokens, **kwargs))


class Session(_Handle):
    """One sequence's KV cache on a model."""

    _free = _session_free

    def __init__(self, model, ctx_size=0, threads=0):
        o = _session_default_options()
        o.ctx_size, o.threads = ctx_size, threads
        h = _p()
        _check(_session_create(model._h, ctypes.byref(o), ctypes.byref(h)))
        self._h, self.model = h, model

    @property
    def position(self):
        return _session_position(self._h)

    def prefill(self, tokens):
        """Appends TOKENS; the last one's logits, as a list of floats."""
        ids, n = _ids(tokens)
        logits = ctypes.POINTER(ctypes.c_float)()
        _check(_session_prefill(self._h, ids, n, ctypes.byref(logits)))
        return logits[: self.model.n_vocab]

    def decode(self, token):
        logits = ctypes.POINTER(ctypes.c_float)()
        _check(_session_decode(self._h, token, ctypes.byref(logits)))
        return logits[: self.model.n_vocab]

    def truncate(self, n):
        _check(_session_truncate(self._h, n))

    def stream(self, tokens, max_tokens=128, ignore_eos=False, **sampling):
        """loom_generate on a thread of its own, its text yielded here as it comes. Closing the
        generator early (break) stops generation at the next token."""
        o = _generate_default_options()
        o.max_tokens, o.ignore_eos = max_tokens, int(ignore_eos)
        o.sampling = _sampler_params(**sampling)
        ids, n = _ids(tokens)
        pieces, stop = queue.Queue(), threading.Event()
        done = object()

        def on_token(token, text, length, user):
            pieces.put(ctypes.string_at(text, length) if length else b"")
            return 1 if stop.is_set() else 0

        callback = _TokenCallback(on_token)
        result = {}

        def run():
            result["status"] = _generate(self._h, ids, n, ctypes.byref(o), callback, None, None)
            result["error"] = _last_error().decode("utf-8", "replace")
            pieces.put(done)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        pending = b""
        try:
            while True:
                piece = pieces.get()
                if piece is done:
                    break
                pending += piece
                try:
                    text, pending = pending.decode(), b""
                except UnicodeDecodeError:
                    continue
                if text:
                    yield text
        finally:
            stop.set()
            worker.join()
        if result["status"] != OK:
            raise Error(result["status"], result["error"])
        if pending:
            yield pending.decode("utf-8", "replace")


class Sampler(_Handle):
    """Picks tokens from logits: temperature, top_k, top_p, min_p, repeat_penalty, seed."""

    _free = _sampler_free

    def __init__(self, model, **params):
        p = _sampler_params(**params)
        h = _p()
        _check(_sampler_create(model._h, ctypes.byref(p), ctypes.byref(h)))
        self._h, self.n_vocab = h, model.n_vocab

    def sample(self, logits):
        arr = (ctypes.c_float * len(logits))(*logits)
        token = _c_i32()
        _check(_sampler_sample(self._h, arr, len(logits), ctypes.byref(token)))
        return token.value


class ChatTemplate(_Handle):
    """The model's chat template (or SOURCE, a Jinja template), rendered as transformers'
    apply_chat_template renders it."""

    _free = _chat_free

    def __init__(self, model, source=None):
        h = _p()
        if source is None:
            _check(_chat_from_model(model._h, ctypes.byref(h)))
        else:
            _check(_chat_create(model._h, source.encode(), ctypes.byref(h)))
        self._h = h

    def apply(self, messages, add_generation_prompt=True):
        """MESSAGES: [{"role": ..., "content": ...}, ...] -> the prompt text."""
        arr = (_ChatMessage * max(len(messages), 1))()
        for i, m in enumerate(messages):
            arr[i].role = m["role"].encode()
            arr[i].content = m["content"].encode()
        return _text_call(_chat_apply, self._h, arr, len(messages), int(add_generation_prompt))
