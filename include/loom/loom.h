// The whole public API of loom.
#pragma once

#include "loom/batch.h"
#include "loom/config.h"
#include "loom/error.h"
#include "loom/generate.h"
#include "loom/model.h"
#include "loom/perplexity.h"
#include "loom/sampler.h"
#include "loom/session.h"
#include "loom/threads.h"
#include "loom/tokenizer.h"
#include "loom/version.h"
