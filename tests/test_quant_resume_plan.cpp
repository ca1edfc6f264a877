// Resuming from every checkpoint of every scope x activation-pass combination gives, byte for byte,
// what the uninterrupted run gives (the unit plan numbers units once, so a resumed run skips
// exactly the finished ones), and the plan itself: order, numbering, BRECQ's step pass last.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "quant/reconstruct.h"
#include "quant/run_state.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"
#include "tests/tiny_resnet.h"

using namespace nwq;

namespace {

struct Stop {};  // thrown from after_save: the run ends there, as a kill would end it

Tensor images() { return test::rand32({8, 1, 8, 8}, 77); }

QuantConfig config(Scope scope, bool steps_pass) {
  QuantConfig c;
  c.method = "custom";
  c.wbits = 2, c.abits = 4;
  c.scope = scope;
  c.rounding = scope == Scope::Network ? Rounding::ASoftmax : Rounding::AdaRound;
  c.mixing = scope == Scope::Block ? Mixing::QDrop : Mixing::None;  // QDrop's stream is saved too
  c.learn_act_steps = !steps_pass;
  c.act_steps_afterwards = steps_pass;
  c.calib = 8, c.init_images = 8, c.batch = 4;
  c.iters = 8;
  return c;
}

// Every quantizer tensor the run changes, in order.
std::vector<Tensor> snapshot(const QuantModel& m) {
  std::vector<Tensor> out;
  for (const auto& e : m.layers()) {
    out.push_back(e.layer->codes.clone());
    out.push_back(e.layer->scale.clone());
  }
  for (const auto& a : m.acts()) out.push_back(a.quantizer->scale.detach().clone());
  return out;
}

// A run from scratch with checkpoints every 3 iterations; stops after the save `stop_at` (an
// index into the saves) when given. Returns the (unit, iteration) of every save.
std::vector<std::pair<int64_t, int64_t>> run(QuantModel& m, const std::string& state,
                                             int64_t stop_at) {
  calibrate(m, images());
  std::vector<std::pair<int64_t, int64_t>> saves;
  Checkpointing ck;
  ck.path = state;
  ck.every = 3;
  ck.after_save = [&](const RunState& s) {
    saves.push_back({s.unit, s.iter});
    if (int64_t(saves.size()) - 1 == stop_at) throw Stop{};
  };
  ReconstructOptions o;
  o.progress = false;
  o.checkpoint = &ck;
  try {
    reconstruct(m, images(), o);
  } catch (const Stop&) {
  }
  return saves;
}

}  // namespace

TEST_CASE("quant resume: every scope x activation pass resumes from every checkpoint exactly") {
  test::TempDir dir;
  const std::string state = dir / "state.safetensors";
  for (Scope scope : {Scope::Layer, Scope::Block, Scope::Network}) {
    for (bool steps_pass : {false, true}) {
      const QuantConfig c = config(scope, steps_pass);
      CAPTURE(to_string(scope));
      CAPTURE(steps_pass);
      validate(c);
      auto full = test::prepare_tiny(c, images().slice(0, 0, 2));
      const auto saves = run(*full, state, -1);
      const std::vector<Tensor> want = snapshot(*full);
      REQUIRE(saves.size() >= 2);
      // Stop points spread over the run: the first save (a unit boundary or inside the first
      // unit), two in between, the last but one (inside or at the end of the last unit).
      const size_t n = saves.size() - 1;
      std::vector<size_t> stops = {0, n / 3, 2 * n / 3, n - 1};
      stops.erase(std::unique(stops.begin(), stops.end()), stops.end());
      for (size_t k : stops) {
        CAPTURE(saves[k].first);
        CAPTURE(saves[k].second);
        auto killed = test::prepare_tiny(c, images().slice(0, 0, 2));
        run(*killed, state, int64_t(k));
        auto resumed = test::prepare_tiny(c, images().slice(0, 0, 2));
        RunState r = load_run_state(state, *resumed);  // as run_quantize does (no calibration)
        Checkpointing ck;
        ck.path = state;
        ck.every = 3;
        ck.resume = &r;
        ReconstructOptions o;
        o.progress = false;
        o.checkpoint = &ck;
        reconstruct(*resumed, images(), o);
        const std::vector<Tensor> got = snapshot(*resumed);
        REQUIRE(got.size() == want.size());
        int64_t differ = 0;
        for (size_t i = 0; i < got.size(); ++i) differ += !test::same_bytes(got[i], want[i]);
        CHECK(differ == 0);
      }
    }
  }
}

TEST_CASE("quant resume: the unit plan lists the scope's units, then BRECQ's step pass") {
  QuantConfig c = config(Scope::Layer, true);
  auto m = test::prepare_tiny(c, images().slice(0, 0, 2));
  std::vector<PlannedUnit> plan = plan_units(*m);
  // 6 layers, then the step pass over the blocks with activation quantizers (stem, layer1.0,
  // layer2.0; the head has none): numbered 0..8 in that order.
  REQUIRE(plan.size() == 9);
  for (size_t k = 0; k < 6; ++k) CHECK(plan[k].kind == PlannedUnit::Kind::Layer);
  CHECK(plan[6].kind == PlannedUnit::Kind::Steps);
  CHECK(plan[6].name == "acts stem");
  CHECK(plan[8].name == "acts layer2.0");
  c = config(Scope::Block, false);
  plan = plan_units(*test::prepare_tiny(c, images().slice(0, 0, 2)));
  REQUIRE(plan.size() == 4);  // stem, layer1.0, layer2.0, head
  CHECK(plan[3].name == "block head");
  c = config(Scope::Network, true);
  plan = plan_units(*test::prepare_tiny(c, images().slice(0, 0, 2)));
  REQUIRE(plan.size() == 4);  // the network, then 3 step units
  CHECK(plan[0].kind == PlannedUnit::Kind::Network);
  c.iters = 3;  // iters / 4 = 0: no step pass
  plan = plan_units(*test::prepare_tiny(c, images().slice(0, 0, 2)));
  CHECK(plan.size() == 1);
}
