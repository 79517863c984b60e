using System.IO.Compression;
using RsMoe.Evaluation.Captions;

namespace RsMoe.Evaluation.Tests;

/// <summary>METEOR's synonym and paraphrase modules, fed small files in METEOR's own formats.</summary>
public sealed class MeteorDataTests
{
    static string DataDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rsmoe-meteor-data", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "synonym"));
        Directory.CreateDirectory(Path.Combine(dir, "function"));
        File.WriteAllLines(Path.Combine(dir, "function", "english.words"), ["a", "an", "the", "is", "are", "to", "of"]);
        // english.exceptions: a base form, then its irregular forms.
        File.WriteAllLines(Path.Combine(dir, "synonym", "english.exceptions"), ["build", "built"]);
        // english.synsets: a word, then its synset numbers.
        File.WriteAllLines(Path.Combine(dir, "synonym", "english.synsets"), ["car", "101 102", "automobile", "101", "build", "300", "construct", "300", "plane", "400"]);
        // paraphrase-en.gz: probability, phrase, paraphrase.
        using (var file = File.Create(Path.Combine(dir, "paraphrase-en.gz")))
        using (var gz = new GZipStream(file, CompressionLevel.Fastest))
        using (var writer = new StreamWriter(gz))
            writer.Write("0.5\nnext to\nbeside\n0.25\nparking lot\ncar park\n");
        return dir;
    }

    [Fact]
    public void SynonymsAndParaphrasesMatchWhenTheirDataIsGiven()
    {
        var plain = new Meteor(MeteorFunctionWords.Load(Path.Combine(DataDirectory(), "function", "english.words")));
        var full = Meteor.FromDataDirectory(DataDirectory());
        Assert.Contains("synonym", full.Modules.ToString());
        Assert.Contains("paraphrase", full.Modules.ToString());

        // Synonyms: car ~ automobile (and cars, by WordNet's suffix rule); built ~ construct through the exception list.
        double without = plain.Best("an automobile is parked", ["a car is parked"]).Score();
        double with = full.Best("an automobile is parked", ["a car is parked"]).Score();
        Assert.True(with > without, $"synonym should help: {without} → {with}");
        Assert.True(full.Best("cars built here", ["automobile construct here"]).Score() > plain.Best("cars built here", ["automobile construct here"]).Score());

        // Paraphrases: "beside" in the candidate for "next to" in the reference, a two-word span on one side.
        var stats = full.Best("the tree beside the road", ["the tree next to the road"]);
        Assert.Equal(5, stats.TestWordMatches);
        Assert.Equal(6, stats.ReferenceWordMatches);
        Assert.Equal(1, stats.Chunks);
        Assert.True(stats.Score() > plain.Best("the tree beside the road", ["the tree next to the road"]).Score());

        // Exact beats a synonym for the same word, so data never lowers an exact match.
        Assert.Equal(plain.Best("a car is parked", ["a car is parked"]).Score(), full.Best("a car is parked", ["a car is parked"]).Score(), 12);
    }

    [Fact]
    public void AMissingDataFolderIsAClearError()
    {
        Assert.Throws<DirectoryNotFoundException>(() => Meteor.FromDataDirectory("/nonexistent/meteor"));
        string empty = Path.Combine(Path.GetTempPath(), "rsmoe-meteor-empty", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(empty);
        Assert.Throws<FileNotFoundException>(() => Meteor.FromDataDirectory(empty));
    }
}
