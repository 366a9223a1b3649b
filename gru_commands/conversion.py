"""The converter's commands as a user sees them: messages, exit status,
signals, and the library's arguments spelled as the commands' flags.

    command(...)          tf1-convert-checkpoint: one conversion
    inspect_command(...)  tf1-inspect-checkpoint: what a checkpoint holds

No flags are defined here (the absl apps `convert_checkpoint` and
`inspect_checkpoint` define them), so tests and other programs can call
these in-process.
"""

import json
import signal
import sys

from gru_common import tables
from migration import description as description_lib
from migration import errors
from migration import exporters
from migration import mapping
from migration import tf1_checkpoint

COMMAND = "tf1-convert-checkpoint"
INSPECT_COMMAND = "tf1-inspect-checkpoint"
# What a conversion raises for bad input (all subclasses of these).
ERRORS = (FileNotFoundError, FileExistsError, ValueError)
# Library argument -> the commands' flag.
FLAGS = {"input_path": "input", "output_path": "output"}


def flag(argument):
  """An `errors.Argument` as the command line spells it: `--input`,
  `--overwrite`, `--scope='x'`, `--scope=...`."""
  name = "--" + FLAGS.get(argument.name, argument.name)
  if argument.value is None or argument.value is True:
    return name
  if argument.value is ...:
    return f"{name}=..."
  return f"{name}={argument.value!r}"


def _message(error):
  """One line: the error's words, arguments spelled as flags."""
  text = (error.render(flag) if isinstance(error, errors.ConversionError)
          else str(error))
  return " ".join(text.split())


def format_checks(checks):
  """The verification table: one line per output."""
  return tables.format_table(
      [("output", "<", 8), ("max abs diff", ">", 14), ("max ulp", ">", 9),
       ("bitwise", ">", 8), ("bound", ">", 9), ("result", "<", 0)],
      [[c.name, f"{c.result.max_abs:.3e}", c.result.max_ulp,
        "yes" if c.result.bitwise else "no",
        f"{c.bound * c.result.scale:.1e}", "ok" if c.passed else "FAIL"]
       for c in checks])


def command(input_path, output_path, target=mapping.TF2, family=None,
            verify=False, overwrite=False, stdout=None, stderr=None,
            **options):
  """tf1-convert-checkpoint: one conversion, as the command reports it.

  Prints the summary (and the verification table) to `stdout`;
  housekeeping lines (`tf1-convert-checkpoint: note: ...`) and any failure,
  as one line `tf1-convert-checkpoint: error: ...`, to `stderr`. Never a
  traceback: an unexpected exception is reported by its type and message.

  Returns:
    The exit status: 0 written, 1 refused or failed (nothing written).

  Example:

  >>> import sys
  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> command(prefix, prefix, stderr=sys.stdout)
  tf1-convert-checkpoint: error: --output '.../model.ckpt': writing it would
  replace or remove '.../model.ckpt.index', which is the input
  '.../model.ckpt.index'; a conversion never touches its input
  1
  """
  stdout = stdout or sys.stdout
  stderr = stderr or sys.stderr

  def note(line):
    print(f"{COMMAND}: note: {line}", file=stderr)

  def error(message):
    print(f"{COMMAND}: error: {message}", file=stderr)
    return 1

  previous = signal.getsignal(signal.SIGTERM)
  try:
    # SIGTERM unwinds like Ctrl-C, so staged files are removed.
    signal.signal(signal.SIGTERM, _raise_interrupt)
  except ValueError:  # Not the main thread: leave the handler alone.
    previous = None
  try:
    report = exporters.convert_path(
        input_path, output_path, target=target, family=family, verify=verify,
        overwrite=overwrite, log=note, **options)
  except ERRORS as e:
    return error(_message(e))
  except KeyboardInterrupt:
    # Signals are held while an output is published, so it is there whole
    # or not at all.
    return error(f"interrupted; {output_path!r} is as it was, or whole if "
                 "the interruption came as it was published")
  except Exception as e:  # pylint: disable=broad-except
    return error(f"{input_path!r}: unexpected {type(e).__name__}: "
                 f"{exporters.first_sentence(e)}")
  finally:
    if previous is not None:
      signal.signal(signal.SIGTERM, previous)
  print(report.summary if report.published else
        report.summary.replace("Wrote", "Did not write", 1), file=stdout)
  if report.checks is not None:
    for line in format_checks(report.checks):
      print(line, file=stdout)
  if not report.published:
    return error(f"verification failed: a difference exceeds its bound; "
                 f"nothing was written to {output_path!r}")
  return 0


def _raise_interrupt(signum, frame):
  del signum, frame
  raise KeyboardInterrupt


def inventory_lines(inventory):
  """The inventory as `tf1-inspect-checkpoint` prints it."""
  out = [f"{len(inventory.variables)} variables; {len(inventory.rnns)} "
         "RNN(s)"]
  for number, rnn in enumerate(inventory.rnns, 1):
    out.append(f"RNN {number} at scope {rnn.scope!r}: {rnn.kind}")
    if rnn.written_by:
      out.append(f"  written by: {rnn.written_by}")
    if rnn.description is None:
      out.extend(f"  problem: {p}" for p in rnn.problems)
      continue
    first, *heads = rnn.description.components
    paths = description_lib.kind_of(first).cell_paths(first)
    if paths:
      out.append(f"  cells: {', '.join(paths)}")
    if first.wiring.initial_state:
      out.append("  initial states: "
                 f"{', '.join(first.wiring.initial_state)}")
    directions = ("forward + backward" if first.wiring.directions == 2 else
                  "forward")
    units = "+".join(str(u) for u in first.units)
    out.append(f"  {units} units, {first.input_dim} inputs, {first.dtype}, "
               f"{directions}")
    if rnn.opaque:
      out.append(f"  {rnn.opaque}: the same weights in cuDNN's opaque "
                 "layout (not read)")
    head = "none"
    if heads:
      outputs = heads[0].units[0]
      head = (f"{heads[0].kind} ({outputs} output"
              f"{'s' if outputs > 1 else ''}) at scope {rnn.head_scope!r}")
    out.append(f"  head: {head}")
    slots = sum(len(v) for v in rnn.slots.values())
    where = (f", under scope {rnn.optimizer_scope!r}" if rnn.optimizer_scope
             else "")
    out.append(f"  optimizer: {rnn.optimizer}" +
               (f" ({slots} slots{where})" if slots else ""))
    out.extend(f"  problem: {p}" for p in rnn.problems)
    if rnn.shadows:
      out.append(f"  EMA shadows: {len(rnn.shadows)} of {len(rnn.names)} "
                 "variables")
  bookkeeping = list(inventory.beta_powers)
  if inventory.global_step:
    bookkeeping.insert(0, f"{inventory.global_step} "
                       f"({inventory.variables[inventory.global_step][1]})")
  out.append("bookkeeping: " + (", ".join(bookkeeping) or "none"))
  out.append(f"other variables: {len(inventory.other)}")
  out.extend(f"  {n} {inventory.variables[n][1]} "
             f"{list(inventory.variables[n][0])}" for n in inventory.other)
  return out


def inspect_command(input_path, as_json=False, stdout=None, stderr=None,
                    meta=None):
  """tf1-inspect-checkpoint: what a TF1 checkpoint holds, as text or JSON.

  Reads the checkpoint's index (`tf1_checkpoint.inspect`) and the
  program's graph, `meta` or the `.meta` beside it, if there is one; no
  tensor and no op runs.

  Returns:
    The exit status: 0 inspected (whatever it holds), 1 no readable TF1
    checkpoint there (one line on `stderr`).

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> inspect_command(prefix)
  9 variables; 1 RNN(s)
  RNN 1 at scope '': Data Blogger GRU
    4 units, 2 inputs, float64, forward
    head: none
    optimizer: none (or a slot-free one: GradientDescent,
  ProximalGradientDescent)
  bookkeeping: none
  other variables: 0
  0
  """
  stdout = stdout or sys.stdout
  stderr = stderr or sys.stderr
  try:
    found = tf1_checkpoint.inspect(input_path, meta)
  except ERRORS as e:
    print(f"{INSPECT_COMMAND}: error: {_message(e)}", file=stderr)
    return 1
  if as_json:
    print(json.dumps(found.to_json(), indent=2, sort_keys=True), file=stdout)
  else:
    for line in inventory_lines(found):
      print(line, file=stdout)
  return 0

