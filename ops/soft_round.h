// Soft rounding of weights, both families: AdaRound's rectified sigmoid (ops/adaround.h) and
// NWQ's annealed softmax over candidates (ops/asoftmax.h). Include this header for both.
#pragma once
#include "ops/adaround.h"
#include "ops/asoftmax.h"
