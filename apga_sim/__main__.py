from apga_sim.cli import app

app(prog_name="apga-sim")
