import gc, os, sys
sys.path.insert(0, os.path.dirname(__file__))
import uvicorn
mode = os.environ.get("GCMODE", "")
target, port = sys.argv[1], int(sys.argv[2])
if mode:
    import importlib
    mod, _, attr = target.partition(":")
    app = getattr(importlib.import_module(mod), attr)
    if mode == "off": gc.disable()
    elif mode.startswith("thr"): gc.set_threshold(int(mode[3:]), 10, 10)
    target = app
uvicorn.run(target, host="127.0.0.1", port=port, workers=1, access_log=False, log_level="warning")
