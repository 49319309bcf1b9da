// How ops run on threads. Every op that splits work is collective: called from serial code it
// opens a parallel region of THREADS threads of its own; called inside a parallel region (of any
// size, one thread included) it must be called by every thread of that team, and shares its
// loops out over the team with orphaned worksharing (omp for), each ending on its barrier.
//
// Why: a decode step is some 150 short products and steps. A region of its own for each, with
// team sizes that change from op to op, left libgomp parking and waking threads between them:
// on the 16-core device the 16-thread decode step ran slower than the 8-thread one. The model's
// forward pass runs in one region per call instead (model/llama.cpp).
#pragma once

#include <omp.h>

#include <exception>

namespace loom::ops {

template <class Body>
void collective(int threads, Body&& body) {
  if (omp_get_level() > 0 || threads <= 1) {  // (outside a region, omp for runs it all)
    body();
  } else {
#pragma omp parallel num_threads(threads)
    body();
  }
}

// One parallel region of THREADS threads running BODY (a forward pass), whose exceptions come back
// to the caller: the first one thrown is rethrown after the region, instead of ending the process
// as an exception leaving a region does. Ops throw only on conditions every thread of the team
// sees alike (a scratch too small, checked before any barrier), so all threads leave together
// and none waits at a barrier for one that threw.
template <class Body>
void region(int threads, Body&& body) {
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    try {
      body();
    } catch (...) {
#pragma omp critical(loom_region_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace loom::ops
