"""python/loom (ctypes over the C API) against llama2.c's greedy text for stories260K, its
streaming, its chat templates and its errors. Run by ctest with Debian's python3:
    LOOM_LIBRARY=build/libloom.so PYTHONPATH=python python3 tests/test_python.py SHARED_DIR
"""

import gc
import os
import sys
import unittest

import loom

SHARED = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join("..", "shared")
STORIES = os.path.join(SHARED, "models", "stories260K")
with open(os.path.join(SHARED, "models", "stories260K-llama2c",
                       "greedy_once_upon_a_time_n256.txt")) as f:
    LLAMA2C = f.read()


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = loom.Model(STORIES)

    def test_version(self):
        self.assertRegex(loom.version(), r"^\d+\.\d+\.\d+$")

    def test_generate_is_llama2cs_greedy_text(self):
        text = self.model.generate("Once upon a time", max_tokens=32, temperature=0)
        self.assertTrue(LLAMA2C.startswith("Once upon a time" + text), text)
        self.assertGreater(len(text), 60)

    def test_stream_yields_the_same_text_piece_by_piece(self):
        pieces = list(self.model.stream("Once upon a time", max_tokens=32, temperature=0))
        self.assertGreater(len(pieces), 10)
        self.assertEqual("".join(pieces),
                         self.model.generate("Once upon a time", max_tokens=32, temperature=0))

    def test_breaking_out_of_a_stream_stops_generation(self):
        got = []
        for piece in self.model.stream("Once upon a time", max_tokens=200, temperature=0):
            got.append(piece)
            if len(got) == 3:
                break
        self.assertEqual(len(got), 3)
        self.assertTrue(LLAMA2C.startswith("Once upon a time" + "".join(got)))

    def test_seeded_sampling_repeats(self):
        a = self.model.generate("Once upon a time", max_tokens=24, temperature=1.0, seed=7)
        b = self.model.generate("Once upon a time", max_tokens=24, temperature=1.0, seed=7)
        self.assertEqual(a, b)

    def test_tokenize_and_detokenize(self):
        ids = self.model.tokenize("Lily liked the ball.")
        self.assertEqual(ids[0], 1)  # BOS
        self.assertEqual(self.model.detokenize(ids[1:]), "Lily liked the ball.")
        self.assertEqual(self.model.n_vocab, 512)
        self.assertTrue(self.model.is_eos(2))

    def test_session_and_sampler_by_hand(self):
        s = self.model.session(ctx_size=64)
        logits = s.prefill(self.model.tokenize("Once upon a time"))
        self.assertEqual(len(logits), 512)
        greedy = loom.Sampler(self.model, temperature=0)
        out = []
        for _ in range(8):
            t = greedy.sample(logits)
            self.assertEqual(t, max(range(512), key=lambda i: logits[i]))
            out.append(t)
            logits = s.decode(t)
        self.assertEqual(s.position, 5 + 8)
        self.assertTrue(LLAMA2C.startswith("Once upon a time" + self.model.detokenize(out)))

    def test_chat_template_from_source(self):
        t = self.model.chat_template("{% for m in messages %}<{{ m.role }}>{{ m.content }}"
                                     "{% endfor %}{{ bos_token }}")
        self.assertEqual(t.apply([{"role": "user", "content": "hé"}]), "<user>hé<s>")

    def test_errors_raise_with_loom_messages(self):
        with self.assertRaises(loom.Error) as e:
            loom.Model("/nonexistent/model")
        self.assertEqual(e.exception.status, loom.LOAD)
        self.assertIn("/nonexistent/model", str(e.exception))
        with self.assertRaises(loom.Error) as e:
            self.model.chat_template()  # stories260K has none
        self.assertIn("no chat template", str(e.exception))
        s = self.model.session(ctx_size=4)
        with self.assertRaises(loom.Error) as e:
            s.prefill([1, 2, 3, 4, 5])
        self.assertEqual(e.exception.status, loom.CONTEXT_FULL)
        with self.assertRaises(loom.Error) as e:
            loom.Sampler(self.model, top_p=3.0)
        self.assertIn("top_p", str(e.exception))

    def test_handles_are_freed(self):
        m = loom.Model(STORIES)
        s = m.session(ctx_size=16)
        s.close()
        s.close()  # twice is harmless
        m.close()
        del m, s
        gc.collect()

    def test_every_handle_closes_at_the_end_of_a_with_block(self):
        with loom.Model(STORIES) as m:
            with m.session(ctx_size=16) as s, loom.Sampler(m) as p:
                with m.chat_template("{{ 'x' }}") as t:
                    self.assertEqual(t.apply([]), "x")
                self.assertIsNone(t._h)
            self.assertIsNone(s._h)
            self.assertIsNone(p._h)
        self.assertIsNone(m._h)


if __name__ == "__main__":
    unittest.main(verbosity=2)
