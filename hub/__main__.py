from hub.cli.main import app

app(prog_name="seat-hub")
