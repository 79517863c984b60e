using RsMoe.Data.Datasets;
using RsMoe.Model.Vision;
using RsMoe.TestSupport;
using static TorchSharp.torch;

namespace RsMoe.Training.Tests;

public sealed class LastBlockTuningTests : IDisposable
{
    readonly string _cache = Directory.CreateTempSubdirectory("rsmoe-tune-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    [Fact]
    public void TuningMovesTheLastBlockOnRealPhotosAndScoresEveryBenchmark()
    {
        // 4 train and 2 validation photos a class from RSSCN7, as two benchmarks (their classes kept apart by the head's masks).
        string folder = SharedData.Path("rsscn7");
        static List<(string, string)> Take(IEnumerable<Rsscn7Photo> photos, int skip, int perClass) =>
            photos.GroupBy(p => p.Label).SelectMany(g => g.Skip(skip).Take(perClass)).Select(p => (p.Path, p.Label)).ToList();
        LinearProbe.Split[] splits =
        [
            new("first", Take(Rsscn7.Split(folder, "train"), 0, 4), Take(Rsscn7.Split(folder, "val"), 0, 2)),
            new("second", Take(Rsscn7.Split(folder, "train"), 4, 4), Take(Rsscn7.Split(folder, "val"), 2, 2)),
        ];
        using var encoder = new ResNetImageEncoder();
        using var imageNet = ResNetBlock.FromOnnx(encoder.ModelPath, ResNetTap.LastStage.Output);

        var (block, scores) = LastBlockTuning.TuneAndProbe(splits, _cache, new() { Epochs = 1, BatchSize = 8 });
        using (block)
        {
            Assert.Equal(["first", "second"], scores.Select(s => s.Benchmark));
            foreach (var score in scores)
            {
                Assert.InRange(score.UntunedProbe, 0.0, 1.0);
                Assert.InRange(score.TunedProbe, 0.0, 1.0);
                Assert.InRange(score.TunedHead, 0.0, 1.0);
            }
            var tuned = block.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, start) in imageNet.named_parameters())
                Assert.False(tuned[name].allclose(start), $"{name} did not move");
            // Every photo's map before the block was encoded once and cached.
            Assert.Equal(84, Directory.GetFiles(_cache, "*.f16", SearchOption.AllDirectories).Length);
        }
    }
}
