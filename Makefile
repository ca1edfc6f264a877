# nwq build: one library of objects, the `nwq` CLI, the doctest binary and the benchmarks.
# CPU-only when nvcc is absent; USE_CUDA=1/0 overrides the detection. SAN=1 adds ASan+UBSan.

# `make` alone builds `all` (build/nwq and build/nwq_tests), whatever target comes first below.
.DEFAULT_GOAL := all

CXX      ?= g++
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
USE_CUDA ?= $(if $(NVCC),1,0)
SAN      ?= 0
# Extra header folders, for machines without Debian's -dev packages (see README: GPU machines).
BLAS_INCLUDE ?=
STB_INCLUDE  ?=
BLAS_LIB     ?= -lopenblas
# Without Debian's libstb.so: make STB_LIB= STB_IMPL=1 (compiles data/stb_impl.cpp's copy).
STB_LIB      ?= -lstb
STB_IMPL     ?= 0
# Parallel compile jobs of `make test/demo/bench/tables` (one per core).
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)

BUILD    := build
OPT      := -O3
ifeq ($(SAN),1)
  BUILD  := build-san
  OPT    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

INCLUDES := -I. $(addprefix -I,$(BLAS_INCLUDE) $(STB_INCLUDE))
ARCH_FLAGS ?= -mavx2 -mfma
CXXFLAGS := -std=c++17 $(OPT) $(ARCH_FLAGS) -Wall -Wextra -fopenmp -MMD -MP $(INCLUDES)
LDFLAGS  := $(OPT) -fopenmp
LDLIBS   := $(BLAS_LIB) $(STB_LIB) -lpthread
ifeq ($(STB_IMPL),1)
  CXXFLAGS += -DNWQ_STB_IMPLEMENTATION
endif

LIB_DIRS := core autograd ops optim models data train quant deploy tools/lib
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
CU_SRCS  :=

ifeq ($(USE_CUDA),1)
  CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
  GPU_ARCH  ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '.')
  ifeq ($(GPU_ARCH),)
    NVCC_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
  else
    NVCC_ARCH := -gencode arch=compute_$(GPU_ARCH),code=sm_$(GPU_ARCH)
  endif
  CU_SRCS   := $(wildcard cuda/*.cu)
  CXXFLAGS  += -DNWQ_USE_CUDA
  NVCCFLAGS := -std=c++17 -O2 $(NVCC_ARCH) -I. $(addprefix -I,$(BLAS_INCLUDE)) -MMD -MP \
               -DNWQ_USE_CUDA -Xcompiler -Wall,-Wextra
  LDLIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas
endif

# Position-independent code everywhere, so that the same objects make both libnwq.a and
# libnwq.so (`make install`); the cost on x86-64 is negligible.
CXXFLAGS  += -fPIC
ifeq ($(USE_CUDA),1)
  NVCCFLAGS += -Xcompiler -fPIC
endif

LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/%.o) $(CU_SRCS:%.cu=$(BUILD)/%.cu.o)
TEST_OBJS := $(patsubst %.cpp,$(BUILD)/%.o,$(wildcard tests/*.cpp))
TOOL_OBJS := $(patsubst %.cpp,$(BUILD)/%.o,$(wildcard tools/*.cpp))
BENCH_OBJS:= $(patsubst %.cpp,$(BUILD)/%.o,$(wildcard bench/*.cpp))

.PHONY: all test bench demo clean setup golden FORCE

# Objects depend on a stamp holding the compiler flags, so switching USE_CUDA / SAN / flags
# rebuilds everything instead of linking objects built with other settings.
FLAGS_STAMP := $(BUILD)/flags.stamp
$(FLAGS_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(CXXFLAGS) | $(NVCCFLAGS)' | cmp -s - $@ || echo '$(CXXFLAGS) | $(NVCCFLAGS)' > $@

all: $(BUILD)/nwq $(BUILD)/nwq_tests

$(BUILD)/libnwq.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/nwq: $(TOOL_OBJS) $(BUILD)/libnwq.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/nwq_tests: $(TEST_OBJS) $(BUILD)/libnwq.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/nwq_bench: $(BENCH_OBJS) $(BUILD)/libnwq.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.cpp $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# The range searches emulate PyTorch's float arithmetic step by step (QDrop's observer): no fused
# multiply-adds there (GCC contracts a*b+c into one FMA by default).
$(BUILD)/ops/lp_error.o $(BUILD)/quant/mse_observer.o: CXXFLAGS += -ffp-contract=off

$(BUILD)/%.cu.o: %.cu $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

# SETUP=0 skips the package check (machines without apt access whose headers come from
# BLAS_INCLUDE / STB_INCLUDE, such as the GPU machine: see scripts/gpu_make.sh).
SETUP ?= 1
setup:
	@if [ "$(SETUP)" = 1 ]; then bash scripts/setup.sh; fi

test: setup
	$(MAKE) -j$(JOBS) $(BUILD)/nwq_tests $(BUILD)/nwq
	$(BUILD)/nwq_tests $(TEST_ARGS)
	@if [ "$(EXAMPLES)" = 1 ]; then $(MAKE) -j$(JOBS) --no-print-directory check-examples && \
	  $(MAKE) -j$(JOBS) --no-print-directory check-install && \
	  $(MAKE) -j$(JOBS) --no-print-directory check-onnx; fi

demo: setup
	$(MAKE) -j$(JOBS) $(BUILD)/nwq
	bash scripts/demo.sh $(BUILD)/nwq

bench: setup
	$(MAKE) -j$(JOBS) $(BUILD)/nwq_bench
	$(BUILD)/nwq_bench $(BENCH_ARGS)

# Large model-zoo goldens (build/golden/, ~330 MB) from torchvision; the zoo tests skip without them.
PYTHON_TORCH ?= /usr/bin/python3
golden:
	$(PYTHON_TORCH) tests/golden/make_zoo_goldens.py

# The PyTorch reference harness's goldens (tests/reference/goldens, committed; scripts/
# reference_goldens.sh): needs Debian's python3-torch. CIFAR10=DIR adds the RTN comparison on the
# PyTorch-trained CIFAR-10 checkpoints when its folder exists (CIFAR10=cifar10:DIR, as below).
.PHONY: reference
reference: setup
	$(MAKE) -j$(JOBS) $(BUILD)/nwq
	CIFAR10_DIR='$(patsubst cifar10:%,%,$(CIFAR10))' bash scripts/reference_goldens.sh $(BUILD)/nwq $(PYTHON_TORCH)

# Reference checkpoints too large to commit (docs/MODELS.md): CIFAR-10 ResNet-18-CIFAR (45 MB),
# trained on the GPU (DEVICE=cpu to force the CPU: days) into models/weights/ (git-ignored).
# CIFAR10 is an nwq --data spec, cifar10:DIR, DIR holding train/ and test/ (ImageFolder) or the
# binary batches, e.g. the project's JPEG copy:
#   mkdir -p build/cifar10 && tar xzf ../shared/data/cifar10-jpeg.tar.gz -C build/cifar10
CIFAR10 ?= cifar10:build/cifar10
# The checkpoints too large to commit, trained when missing (docs/MODELS.md has their top-1:
# resnet18_cifar 91.99%; the RegNet and MNASNet CIFAR variants are recipes not yet run).
REFERENCE_WEIGHTS ?= cifar10_resnet18_cifar cifar10_regnet_x_600mf_cifar cifar10_mnasnet1_0_cifar
.PHONY: reference-weights
reference-weights: setup
	@dir='$(patsubst cifar10:%,%,$(CIFAR10))'; if [ ! -d "$$dir" ]; then \
	  echo "reference-weights: no CIFAR-10 at '$$dir' (CIFAR10=$(CIFAR10))." >&2; \
	  echo "  Set CIFAR10=cifar10:DIR (DIR with train/ and test/, or the binary batches), or unpack the" >&2; \
	  echo "  JPEG copy: mkdir -p build/cifar10 && tar xzf ../shared/data/cifar10-jpeg.tar.gz -C build/cifar10" >&2; \
	  exit 1; fi
	$(MAKE) -j$(JOBS) $(BUILD)/nwq
	@for n in $(REFERENCE_WEIGHTS); do \
	  if [ -s models/weights/$$n.safetensors ]; then echo "reference-weights: $$n exists, kept"; continue; fi; \
	  NWQ=$(BUILD)/nwq bash scripts/train_reference.sh $$n $(CIFAR10) models/weights || exit 1; \
	  echo "reference-weights: models/weights/$$n.safetensors, test top-1" \
	    "$$(grep -o '"top1":[0-9.]*' models/weights/$$n.json | cut -d: -f2)% (log models/weights/$$n.log)"; \
	done

# The paper-shaped quantization matrix (docs/RESULTS.md, issue "tables"): 5 methods x
# W4A4/W2A4/W3A3/W2A2 x 3 seeds on CIFAR-10 resnet20/resnet18_cifar/mobilenetv2_cifar/
# regnet_x_600mf_cifar/mnasnet1_0_cifar and
# Fashion-MNIST resnet20, then the ablation set (NWQ W2A2 on resnet20, one axis changed at a
# time); on the GPU when nvidia-smi sees one. Resumable: finished runs (their summaries in
# TABLES_DIR) are not redone and interrupted ones continue from their run state; rerun after an
# interruption. Writes the tables into docs/RESULTS.md (blocks "tables" and "ablation") and
# TABLES_DIR/TABLES.md (scripts/gather_tables.sh). resnet18_cifar and the RegNet/MNASNet
# variants need `make reference-weights`
# first. ITERS (default 20000) and PARALLEL (runs at a time) are knobs; each ITERS gets its own
# TABLES_DIR.
# SLURM=1: the same runs as two Slurm job arrays (one task per run, scripts/slurm_tables.sh;
# knobs SLURM_PARTITION, SLURM_TIME, SLURM_CPUS, SLURM_MEM, SLURM_RUN_GPUS, SLURM_MAX_PARALLEL,
# SLURM_EXTRA, SUBMIT=0), on the GPU when this is a CUDA build; `make tables SLURM=1` again
# submits what is left, and `make tables-gather` (same ITERS / TABLES_DIR) writes the tables once
# the arrays are done (docs/QUANTIZATION.md, "Running the tables on a Slurm cluster").
# `make check-slurm` runs that path on a one-node Slurm started from Debian's packages.
ITERS ?= 20000
TABLES_DIR ?= build/tables-iters$(ITERS)
PARALLEL ?= 1
SLURM ?= 0
ifeq ($(SLURM),1)
TABLES_DEVICE ?= $(if $(filter 1,$(USE_CUDA)),cuda,cpu)
else
TABLES_DEVICE ?= $(if $(shell nvidia-smi -L 2>/dev/null),cuda,cpu)
endif
TABLES_ENV = ITERS=$(ITERS) DEVICE=$(TABLES_DEVICE) CIFAR10='$(patsubst cifar10:%,%,$(CIFAR10))'
.PHONY: tables tables-jobs tables-gather check-slurm
tables-jobs: setup
	$(MAKE) -j$(JOBS) $(BUILD)/nwq
	$(TABLES_ENV) bash scripts/matrix_jobs.sh tables > $(BUILD)/tables_jobs.txt
	$(TABLES_ENV) bash scripts/matrix_jobs.sh ablation > $(BUILD)/ablation_jobs.txt

ifeq ($(SLURM),1)
tables: tables-jobs
	NWQ=$(BUILD)/nwq bash scripts/slurm_tables.sh $(BUILD)/tables_jobs.txt $(TABLES_DIR)
	NWQ=$(BUILD)/nwq bash scripts/slurm_tables.sh $(BUILD)/ablation_jobs.txt $(TABLES_DIR)/ablation
	@echo "tables: Slurm arrays for $(TABLES_DIR) ($(ITERS) iterations per unit); squeue --me shows them."
	@echo "  Interrupted or failed tasks: run the same make command again (it submits only unfinished runs)."
	@echo "  When the queue is empty: make tables-gather ITERS=$(ITERS) TABLES_DIR=$(TABLES_DIR)"
else
tables: tables-jobs
	NWQ=$(BUILD)/nwq bash scripts/quant_matrix.sh $(BUILD)/tables_jobs.txt $(TABLES_DIR) $(PARALLEL)
	NWQ=$(BUILD)/nwq bash scripts/quant_matrix.sh $(BUILD)/ablation_jobs.txt $(TABLES_DIR)/ablation $(PARALLEL)
	bash scripts/gather_tables.sh $(TABLES_DIR) docs/RESULTS.md
	@echo "tables: docs/RESULTS.md and $(TABLES_DIR)/TABLES.md ($(ITERS) iterations per unit)"
endif

tables-gather:
	bash scripts/gather_tables.sh $(TABLES_DIR) docs/RESULTS.md
	@echo "tables: docs/RESULTS.md and $(TABLES_DIR)/TABLES.md ($(ITERS) iterations per unit)"

check-slurm: setup
	$(MAKE) -j$(JOBS) $(BUILD)/nwq
	NWQ=$(BUILD)/nwq SETUP=$(SETUP) bash scripts/check_slurm.sh

# ---- examples/: one short program per file, each linked against libnwq.a ----
# `make examples` builds them into build/examples/; `make check-examples` runs each on tiny inputs
# and checks its output (scripts/check_examples.sh). `make test` runs both checks below after the
# suite, unless EXAMPLES=0 (the default under SAN=1: the sanitized suite alone takes minutes).
EXAMPLES      ?= $(if $(filter 1,$(SAN)),0,1)
EXAMPLE_SRCS  := $(wildcard examples/*.cpp)
EXAMPLE_OBJS  := $(EXAMPLE_SRCS:%.cpp=$(BUILD)/%.o)
EXAMPLE_BINS  := $(EXAMPLE_SRCS:%.cpp=$(BUILD)/%)
.PHONY: examples check-examples
examples: $(EXAMPLE_BINS)

$(EXAMPLE_BINS): $(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/libnwq.a
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check-examples: examples
	bash scripts/check_examples.sh $(BUILD)/examples

-include $(EXAMPLE_OBJS:.o=.d)

# ---- make install PREFIX=DIR [DESTDIR=STAGE]: the library for programs outside this tree ----
# Installs PREFIX/lib/libnwq.a, PREFIX/lib/libnwq.so, the headers under PREFIX/include/nwq/
# (included as "core/tensor.h", ...) and PREFIX/lib/pkgconfig/nwq.pc, whose Libs carry what the
# library links against (OpenBLAS, stb, OpenMP, and -lcudart -lcublas in a CUDA build).
# `make check-install` installs into a temporary folder and builds two examples outside the tree
# with pkg-config (scripts/check_install.sh). tools/lib's CLI headers are not installed. Under
# SAN=1 the .pc does not carry the sanitizer flags.
PREFIX       ?= /usr/local
DESTDIR      ?=
NWQ_VERSION  := 0.1.0
HEADER_DIRS  := core autograd ops optim models data train quant deploy
PC_LIBS      := -fopenmp $(LDLIBS)
.PHONY: install check-install

$(BUILD)/libnwq.so: $(LIB_OBJS)
	$(CXX) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

install: $(BUILD)/libnwq.a $(BUILD)/libnwq.so
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libnwq.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libnwq.so $(DESTDIR)$(PREFIX)/lib/
	for d in $(HEADER_DIRS); do \
	  install -d $(DESTDIR)$(PREFIX)/include/nwq/$$d && \
	  install -m 644 $$d/*.h $(DESTDIR)$(PREFIX)/include/nwq/$$d/ || exit 1; done
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(NWQ_VERSION)|' -e 's|@LIBS@|$(PC_LIBS)|' \
	  scripts/nwq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nwq.pc

check-install:
	bash scripts/check_install.sh

# ---- make check-onnx: `nwq export` checked with ONNX Runtime (scripts/check_onnx.sh) ----
# ResNet-20 and MobileNetV2-CIFAR, FP, W8A8 and W4A4, run by onnxruntime-node (npm, installed into
# build/onnxruntime/ on first use) and compared with nwq's logits. `make test` runs it after
# check-install (not under SAN=1, like the examples); it skips with a message when npm is missing.
.PHONY: check-onnx
check-onnx: $(BUILD)/nwq
	bash scripts/check_onnx.sh $(BUILD)/nwq

clean:
	rm -rf build build-san

# libFuzzer targets: fuzz-build, fuzz, fuzz-ci, fuzz-clean (docs/RELIABILITY.md).
include fuzz/fuzz.mk

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) $(BENCH_OBJS:.o=.d)
