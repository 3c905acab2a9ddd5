from lipflow.cli import run

run()
