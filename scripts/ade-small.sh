#!/usr/bin/env bash
# The distillation recipe (Gu et al., 2023) small enough for a 2-core CPU in under an hour:
#   1. a local teacher (Qwen2.5-Coder-0.5B-Instruct, GGUF) labels a uniform sample of the ADE
#      training sentences — gold labels are never read;
#   2. a student (all-MiniLM-L6-v2 + pair tagger) trains on those labels only;
#   3. the teacher labels a sample of the dev sentences; teacher and student are scored on it
#      (and the student on all of dev); a supervised student trained on the gold labels of the
#      same training sentences gives the upper bound.
# Every step resumes: teacher answers are cached, training resumes from its checkpoints.
#
# usage: scripts/ade-small.sh WORKDIR [--test DIR]
#   WORKDIR      where labels, models and results go
#   --test DIR   also score teacher and student on DIR (same format as ../shared/data/ade/dev),
#                on a sample of TEST_POSITIVES + TEST_NEGATIVES sentences, printing
#                `teacher: {…}` and `student: {…}` (the `eval extract --json` objects)
# Sizes (environment): TRAIN_SENTENCES (200), DEV_POSITIVES (60), DEV_NEGATIVES (20),
#   TEST_POSITIVES / TEST_NEGATIVES (as dev; "all" for every sentence), TEACHER (the GGUF),
#   STUDENT_BASE (all-MiniLM-L6-v2), EPOCHS (20), LR (2e-4), TEACHER_FLAGS (extra `label` flags, such as
#   `--teacher openai --base-url URL`, with TEACHER naming the endpoint's model), DEVICE (cpu),
#   SELF_TRAIN_ROUNDS (0: none; N: the student then self-trains N rounds on SELF_TRAIN_SENTENCES
#   (600) further unlabelled training sentences, SELF_TRAIN_EPOCHS (5) each, into WORKDIR/self-trained).
# The full recipe is the same script at full size on a bigger machine, e.g.
#   TRAIN_SENTENCES=100000 DEV_POSITIVES=all DEV_NEGATIVES=all STUDENT_BASE=all-mpnet-base-v2 \
#   TEACHER=Qwen2.5-7B-Instruct TEACHER_FLAGS="--teacher openai --base-url http://localhost:8000/v1" \
#   DEVICE=cuda scripts/ade-small.sh WORKDIR
# Needs ../shared/data/ade beside the checkout (or ADE_DATA=folder holding train/ and dev/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:?usage: scripts/ade-small.sh WORKDIR [--test DIR]}"
shift
test_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --test) test_dir="${2:?--test needs a folder}"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
data="${ADE_DATA:-$root/../shared/data/ade}"
train_n="${TRAIN_SENTENCES:-200}"
dev_pos="${DEV_POSITIVES:-60}"
dev_neg="${DEV_NEGATIVES:-20}"
test_pos="${TEST_POSITIVES:-$dev_pos}"
test_neg="${TEST_NEGATIVES:-$dev_neg}"
teacher="${TEACHER:-Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf}"
base="${STUDENT_BASE:-all-MiniLM-L6-v2}"
epochs="${EPOCHS:-20}"
lr="${LR:-2e-4}"
teacher_flags="${TEACHER_FLAGS:-}"
device="${DEVICE:-cpu}"
self_rounds="${SELF_TRAIN_ROUNDS:-0}"
self_n="${SELF_TRAIN_SENTENCES:-600}"
self_epochs="${SELF_TRAIN_EPOCHS:-5}"
bin="${BIOLORE_BIN:-$root/target/release/biolore}"
[ -d "$data/train" ] || { echo "no ADE corpus at $data (set ADE_DATA)" >&2; exit 1; }
"$root/scripts/setup.sh" all-MiniLM-L6-v2 openblas qwen2.5-0.5b >&2
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet --bin biolore)
export BIOLORE_MODELS="${BIOLORE_MODELS:-$root/models}"
mkdir -p "$work"
cache="$work/teacher-cache"
started=$(date +%s)

sample() { # positives negatives → selection flags
  local flags=""
  [ "$1" = all ] || flags="$flags --positives $1"
  [ "$2" = all ] || flags="$flags --negatives $2"
  [ -n "$flags" ] || flags="--positives 1000000"
  echo "$flags"
}

# 1. The teacher labels training sentences (a uniform sample; gold relations are not read).
"$bin" label --input "$data/train" --limit "$train_n" --teacher-model "$teacher" $teacher_flags \
  --cache "$cache" --out "$work/teacher-train.jsonl" >&2
# 2. The student learns from the teacher's labels only.
"$bin" train extractor --data "$work/teacher-train.jsonl" --model "$base" --epochs "$epochs" --lr "$lr" \
  --device "$device" --out "$work/student" >&2
# 2b. Optional self-training rounds on the student's own confident predictions.
if [ "$self_rounds" -gt 0 ]; then
  mkdir -p "$work/self-trained/self-train"
  # Round 0 is the student above: the trainer sees a finished run and skips it.
  [ -d "$work/self-trained/self-train/round-0" ] || cp -r "$work/student" "$work/self-trained/self-train/round-0"
  "$bin" train extractor --data "$work/teacher-train.jsonl" --model "$base" --epochs "$epochs" --lr "$lr" \
    --device "$device" --self-train "$data/train" --self-train-limit "$self_n" --rounds "$self_rounds" \
    --self-train-epochs "$self_epochs" --out "$work/self-trained" >&2
fi
# 3. The supervised upper bound: the same sentences with their gold labels.
"$bin" train extractor --data "$data/train" --limit "$train_n" --model "$base" --epochs "$epochs" --lr "$lr" \
  --device "$device" --out "$work/supervised" >&2
# 4. Dev: the teacher labels a sample; everything is scored on it.
dev_sel=$(sample "$dev_pos" "$dev_neg")
"$bin" label --input "$data/dev" $dev_sel --teacher-model "$teacher" $teacher_flags --cache "$cache" \
  --out "$work/teacher-dev.jsonl" >&2
{
  echo "teacher-dev: $("$bin" eval extract --gold "$data/dev" $dev_sel --predictions "$work/teacher-dev.jsonl" --json)"
  echo "student-dev: $("$bin" eval extract --gold "$data/dev" $dev_sel --model "$work/student" --device "$device" --json)"
  echo "supervised-dev: $("$bin" eval extract --gold "$data/dev" $dev_sel --model "$work/supervised" --device "$device" --json)"
  echo "student-dev-all: $("$bin" eval extract --gold "$data/dev" --model "$work/student" --device "$device" --json)"
  echo "supervised-dev-all: $("$bin" eval extract --gold "$data/dev" --model "$work/supervised" --device "$device" --json)"
  if [ "$self_rounds" -gt 0 ]; then
    echo "self-trained-dev: $("$bin" eval extract --gold "$data/dev" $dev_sel --model "$work/self-trained" --device "$device" --json)"
    echo "self-trained-dev-all: $("$bin" eval extract --gold "$data/dev" --model "$work/self-trained" --device "$device" --json)"
  fi
} > "$work/results.txt"
cat "$work/results.txt" >&2
echo "small recipe: $(( $(date +%s) - started )) s" >&2
echo "student: $work/student"
echo "supervised: $work/supervised"
[ "$self_rounds" -gt 0 ] && echo "self-trained: $work/self-trained"
echo "teacher labels: $work/teacher-train.jsonl"

if [ -n "$test_dir" ]; then
  test_sel=$(sample "$test_pos" "$test_neg")
  "$bin" label --input "$test_dir" $test_sel --teacher-model "$teacher" $teacher_flags --cache "$cache" \
    --out "$work/teacher-test.jsonl" >&2
  echo "teacher: $("$bin" eval extract --gold "$test_dir" $test_sel --predictions "$work/teacher-test.jsonl" --json)"
  echo "student: $("$bin" eval extract --gold "$test_dir" $test_sel --model "$work/student" --device "$device" --json)"
fi
