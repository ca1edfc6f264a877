# libFuzzer targets for nwq's parsers (docs/RELIABILITY.md). Included by the main Makefile, or
# run alone from the repository root: make -f fuzz/fuzz.mk fuzz-build | fuzz | fuzz-ci.
#   fuzz-build  builds build-fuzz/fuzz_<name> for every target (clang, ASan + UBSan + libFuzzer)
#   fuzz        replays each target's seed corpus fuzz/corpus/<name>/ once (a regression check),
#               then fuzzes each for FUZZ_SECONDS seconds when that is > 0 (default 0)
#   fuzz-ci     fuzzes each target for FUZZ_CI_SECONDS (12) seconds
#   fuzz-clean  removes build-fuzz/
# New corpus entries go to build-fuzz/corpus/<name>/, crashes to build-fuzz/artifacts/<name>/.
# The project sources each target needs are compiled here with the same sanitizer flags (never
# the g++ objects of build/). stb_image is compiled from Debian's header (data/stb_impl.cpp with
# NWQ_STB_IMPLEMENTATION) so that its decoders are instrumented too.

FUZZ_CXX      ?= clang++
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 0
FUZZ_CI_SECONDS ?= 12
FUZZ_JOBS_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1
FUZZ_RUN_OPTS ?= -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
FUZZ_FLAGS    := -std=c++17 -O1 -g -fno-omit-frame-pointer \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CPPFLAGS := -I. $(addprefix -I,$(BLAS_INCLUDE)) -DNWQ_STB_IMPLEMENTATION -MMD -MP

FUZZ_TARGETS := json safetensors idx image cifar10 args quantized torch_checkpoint

# Project sources per target (each target's own fuzz/fuzz_<name>.cpp is added below).
FUZZ_CORE_TENSOR := core/allocator.cpp core/dtype.cpp core/file_util.cpp core/json.cpp \
                    core/safetensors.cpp core/storage.cpp core/tensor.cpp core/tensor_copy.cpp \
                    core/tensor_io.cpp
# The torch.save readers: models/module.cpp loads weights through them (load_weights_file).
FUZZ_TORCH_READERS := core/zip_reader.cpp core/pickle_reader.cpp core/torch_checkpoint.cpp
FUZZ_SRCS_json        := core/json.cpp
FUZZ_SRCS_safetensors := $(FUZZ_CORE_TENSOR)
FUZZ_SRCS_idx         := data/idx.cpp data/gzip.cpp data/stb_impl.cpp
FUZZ_SRCS_image       := data/image_folder_dataset.cpp data/image_check.cpp data/image_pipeline.cpp \
                         data/image_transforms.cpp core/file_util.cpp core/rng.cpp data/stb_impl.cpp
FUZZ_SRCS_cifar10     := data/cifar10.cpp core/file_util.cpp
FUZZ_SRCS_args        := tools/lib/args.cpp
FUZZ_SRCS_quantized   := $(FUZZ_CORE_TENSOR) $(FUZZ_TORCH_READERS) core/rng.cpp core/tensor_random.cpp \
                         $(wildcard autograd/*.cpp) $(wildcard ops/*.cpp) $(wildcard models/*.cpp) \
                         optim/optimizer.cpp \
                         quant/export.cpp quant/config.cpp quant/quant_model.cpp \
                         quant/quant_layer.cpp quant/act_quantizer.cpp quant/range_search.cpp \
                         quant/mse_observer.cpp
FUZZ_LIBS_quantized   := -fopenmp -lopenblas
FUZZ_SRCS_torch_checkpoint := $(FUZZ_CORE_TENSOR) $(FUZZ_TORCH_READERS)

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_ALL_OBJS := $(sort $(foreach t,$(FUZZ_TARGETS),$(FUZZ_BUILD)/obj/fuzz/fuzz_$(t).o \
                   $(patsubst %.cpp,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS_$(t)))))

.PHONY: fuzz-build fuzz fuzz-ci fuzz-clean fuzz-setup

fuzz-build: fuzz-setup
	$(MAKE) -f fuzz/fuzz.mk $(FUZZ_BINS)

# clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev), installed when missing and
# root, unless SETUP=0.
SETUP ?= 1
fuzz-setup:
	@if [ "$(SETUP)" = 1 ]; then bash scripts/setup.sh clang libclang-rt-14-dev; fi

# Objects depend on a stamp of the flags, so changing them rebuilds everything. The build folder
# ignores itself in git.
FUZZ_STAMP := $(FUZZ_BUILD)/flags.stamp
$(FUZZ_STAMP): FORCE
	@mkdir -p $(FUZZ_BUILD)
	@test -f $(FUZZ_BUILD)/.gitignore || echo '*' > $(FUZZ_BUILD)/.gitignore
	@echo '$(FUZZ_CXX) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS)' | cmp -s - $@ || \
	  echo '$(FUZZ_CXX) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS)' > $@

# ops/ uses OpenMP (omp.h, omp_get_max_threads); the rest compiles without it. stb_image's own
# code is built without the shift check: its JPEG bit reader shifts by 32 on some inputs (finding
# S3 in docs/RELIABILITY.md, a known stb_image 2.27 issue without memory access) and would stop
# every run; all other checks stay on for it.
# They also depend on this file, whose per-file flags (the shift exception) the stamp does not
# hold: a stale stb_impl.o with the shift check stopped a long run at S3.
$(FUZZ_BUILD)/obj/%.o: %.cpp $(FUZZ_STAMP) fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS) $(if $(filter ops/%,$<),-fopenmp) \
	  $(if $(filter data/stb_impl.cpp,$<),-fno-sanitize=shift) -c $< -o $@

define FUZZ_LINK_RULE
$(FUZZ_BUILD)/fuzz_$(1): $(FUZZ_BUILD)/obj/fuzz/fuzz_$(1).o $(patsubst %.cpp,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS_$(1)))
	$$(FUZZ_CXX) $$(FUZZ_FLAGS) -o $$@ $$^ $$(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK_RULE,$(t))))

# $(call fuzz_run,name,extra options): one target over its work corpus and its seeds.
fuzz_dict = $(if $(wildcard fuzz/dict/$(1).dict),-dict=fuzz/dict/$(1).dict)
define fuzz_run
	@mkdir -p $(FUZZ_BUILD)/corpus/$(1) $(FUZZ_BUILD)/artifacts/$(1)
	$(FUZZ_JOBS_ENV) $(FUZZ_BUILD)/fuzz_$(1) $(FUZZ_RUN_OPTS) $(call fuzz_dict,$(1)) \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/$(1)/ $(2) $(FUZZ_BUILD)/corpus/$(1) fuzz/corpus/$(1)

endef

fuzz: fuzz-build
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),-runs=0))
ifneq ($(FUZZ_SECONDS),0)
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),-max_total_time=$(FUZZ_SECONDS)))
endif

fuzz-ci: fuzz-build
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),-max_total_time=$(FUZZ_CI_SECONDS)))

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

FORCE:

-include $(FUZZ_ALL_OBJS:.o=.d)
