namespace RsMoe.Data.Datasets;

/// <summary>
/// The real captioned imagery under one shared data folder (<c>../shared/data</c>): UCM-captions and RSICD with their
/// images, RSIVQA's questions attached to their images, RSSCN7, and the caption text corpora. Splits are the
/// Karpathy splits of the caption files; an RSIVQA question goes with its image's split, so no split leaks.
/// </summary>
public sealed class RealImagery(string root)
{
    public string Root { get; } = Directory.Exists(root) ? Path.GetFullPath(root)
        : throw new DirectoryNotFoundException($"no shared data folder at '{root}'");

    string CaptionFolder => Path.Combine(Root, "captions");
    public string Rsscn7 => Path.Combine(Root, "rsscn7");

    /// <summary>UCM-captions' 2,100 images with RSIVQA's questions on them (presence, counting, location, theme).</summary>
    public CaptionDataset Ucm() => Rsivqa.Attach(
        UcmCaptions.Read(Path.Combine(Root, "ucm-captions"), Path.Combine(CaptionFolder, "UCM_captions_karpathy.json")),
        Rsivqa.Read(Path.Combine(Root, "rsivqa", "UCM", "ucm_res.txt")).Concat(Rsivqa.Read(Path.Combine(Root, "rsivqa", "UCM", "ucm_vqa.txt"))));

    /// <summary>RSICD's available images with RSIVQA's theme question on each, and what is missing per split.</summary>
    public Rsicd.Result Rsicd()
    {
        var result = Datasets.Rsicd.Read(Path.Combine(Root, "rsicd"), Path.Combine(CaptionFolder, "RSICD_karpathy.json"));
        return result with { Dataset = Rsivqa.Attach(result.Dataset, Rsivqa.Read(Path.Combine(Root, "rsivqa", "AID", "rsicd_vqa.txt"))) };
    }

    /// <summary>Every test reference of UCM-captions and RSICD (all 1,093 RSICD test images, available or not).</summary>
    public IEnumerable<string> TestReferences() =>
        new[] { "UCM_captions_karpathy.json", "RSICD_karpathy.json" }
            .SelectMany(f => DatasetReader.Read(Path.Combine(CaptionFolder, f)).Split("test"))
            .SelectMany(i => i.Captions);

    /// <summary>Stage 0's text: every caption corpus and RSICap, less the test references.</summary>
    public CaptionCorpus.Result Corpus() =>
        CaptionCorpus.Read(CaptionFolder, Path.Combine(Root, "rsicap", "captions.json"), TestReferences());
}
