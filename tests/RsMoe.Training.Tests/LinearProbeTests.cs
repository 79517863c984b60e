using RsMoe.Data.Datasets;
using RsMoe.TestSupport;
using static TorchSharp.torch;

namespace RsMoe.Training.Tests;

public sealed class LinearProbeTests : IDisposable
{
    readonly string _cache = Directory.CreateTempSubdirectory("rsmoe-probe-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    [Fact]
    public void SeparableClassesAreNamedAndShuffledLabelsAreNot()
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(4);
        // Three classes, each a blob around its own centre in 16 dimensions, far apart against their spread.
        var centres = randn(3, 16, generator: generator) * 4;
        Tensor Sample(int perClass) => cat(Enumerable.Range(0, 3).Select(c => centres[c].unsqueeze(0) + randn(perClass, 16, generator: generator)).ToArray(), 0);
        string[] Labels(int perClass) => Enumerable.Range(0, 3).SelectMany(c => Enumerable.Repeat($"class{c}", perClass)).ToArray();
        var train = Sample(40);
        var test = Sample(20);

        var score = LinearProbe.FitAndScore(train, Labels(40), test, Labels(20));
        Assert.Equal(1.0, score.Accuracy, 3);
        Assert.Equal(["class0", "class1", "class2"], score.PerClass.Keys);

        // The same features with labels that say nothing about them: near chance (1/3), far from perfect.
        var random = new Random(5);
        var noise = LinearProbe.FitAndScore(train, Labels(40).OrderBy(_ => random.Next()).ToArray(), test, Labels(20));
        Assert.InRange(noise.Accuracy, 0.0, 0.7);
    }

    [Fact]
    public void FrozenFeaturesAndTheDefaultModelsVisualPrefixNameRealRsscn7ClassesWellAboveChance()
    {
        // 15 train and 5 validation photos a class from RSSCN7 (real photographs; 7 classes, chance 14 %).
        string folder = SharedData.Path("rsscn7");
        static List<(string, string)> Take(IEnumerable<Rsscn7Photo> photos, int perClass) =>
            photos.GroupBy(p => p.Label).SelectMany(g => g.Take(perClass)).Select(p => (p.Path, p.Label)).ToList();
        var split = new LinearProbe.Split("RSSCN7 val (subset)", Take(Rsscn7.Split(folder, "train"), 15), Take(Rsscn7.Split(folder, "val"), 5));

        // Without a model, the image features the default model reads, so both runs share them.
        string model = RsMoe.Model.Moe.ModelLocator.DefaultModelDirectory();
        string encoder = RsMoe.Model.Moe.ModelFolder.LoadConfig(model).ImageEncoder;
        var result = Assert.Single(LinearProbe.Run([split], _cache, modelDirectory: null, imageEncoder: encoder));
        Assert.Equal(7, result.Classes);
        Assert.Equal(105, result.TrainPhotos);
        Assert.Equal(35, result.TestPhotos);
        Assert.Null(result.VisualPrefix);
        Assert.InRange(result.Features.Accuracy, 0.5, 1.0);

        var withModel = Assert.Single(LinearProbe.Run([split], _cache, model));
        Assert.Equal(result.Features.Accuracy, withModel.Features.Accuracy);   // the same cached features, the same fit
        Assert.Equal(result.Features.PerClass, withModel.Features.PerClass);
        Assert.InRange(withModel.VisualPrefix!.Accuracy, 0.5, 1.0);
        Assert.Equal(7, withModel.VisualPrefix.PerClass.Count);
        Assert.Equal(140, Directory.GetFiles(_cache, "*.f16", SearchOption.AllDirectories).Length);   // every photo encoded once, cached
        Assert.Contains("| RSSCN7 val (subset) | 7 | 105 | 35 |", LinearProbe.Markdown([result]));
    }
}
