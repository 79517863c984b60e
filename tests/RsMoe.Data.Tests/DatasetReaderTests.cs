using RsMoe.Data.Datasets;

namespace RsMoe.Data.Tests;

public sealed class DatasetReaderTests
{
    [Theory]
    [InlineData("UCM_captions_karpathy.json", 2100)]
    [InlineData("SIDNEY_karpathy.json", 613)]
    [InlineData("RSICD_karpathy.json", 10921)]
    [InlineData("RSITMD_karpathy.json", 4743)]
    public void ReadsKarpathyFilesWithTheirSplits(string file, int images)
    {
        var dataset = DatasetReader.Read(SharedData.Path("captions", file));
        Assert.Equal("karpathy", dataset.Format);
        Assert.Equal(images, dataset.Images.Count);
        Assert.Contains("test", dataset.Splits);
        Assert.All(dataset.Images.Take(50), i => Assert.NotEmpty(i.Captions));
    }

    [Fact]
    public void ReadsRsiCapAndRsiEval()
    {
        var rsicap = DatasetReader.Read(SharedData.Path("rsicap", "captions.json"));
        Assert.Equal("rsicap", rsicap.Format);
        Assert.Equal("0", rsicap.Images[0].Id);
        Assert.Equal("P0378_0001.png", rsicap.Images[0].FileName);
        Assert.StartsWith("This is an aerial image", rsicap.Images[0].Captions[0]);

        var rsieval = DatasetReader.Read(SharedData.Path("rsieval", "annotations.json"));
        Assert.Equal(100, rsieval.Images.Count);
        Assert.Equal(943, rsieval.Images.Sum(i => i.QaPairs.Count));
        Assert.Equal(10, rsieval.Images.SelectMany(i => i.QaPairs).Select(q => q.Type).Distinct().Count());
        Assert.Equal("test", rsieval.Images[0].Split);
    }

    [Fact]
    public void BadFilesGetClearErrors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rsmoe-data-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "bad.json"), "{ not json");
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => DatasetReader.Read(Path.Combine(dir, "bad.json"))).Message);
        File.WriteAllText(Path.Combine(dir, "other.json"), "{\"x\": 1}");
        Assert.Throws<InvalidDataException>(() => DatasetReader.Read(Path.Combine(dir, "other.json")));
        Assert.Throws<FileNotFoundException>(() => DatasetReader.Read(Path.Combine(dir, "missing.json")));
    }
}
