from bench.common import Bench, Figure
async def run(bench: Bench) -> list[Figure]:
    return []
