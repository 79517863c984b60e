using RsMoe.Captions;
using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;

namespace RsMoe.Training;

/// <summary>
/// Training examples from real captioned imagery: UCM-captions and RSICD (five independent one-sentence references
/// per image) with RSIVQA's questions, and RSSCN7's photographs with sentences for their class.
/// </summary>
public static class RealImagerySamples
{
    /// <summary>
    /// Stage I: every distinct reference sentence of an image is one example. Stage II: each sentence goes to the
    /// expert of its aspect (<see cref="AspectSplitter.LabelReference"/>); an expert none of whose aspect the
    /// references hold gets one of the image's other sentences, so every expert learns to write a real sentence for
    /// every image (never an empty section). Questions go to the expert of their type's aspect and teach the gate.
    /// </summary>
    /// <param name="maxImages">Only the first this many images of the split (0 = all; short test runs).</param>
    public static void Add(CaptionDataset dataset, string split, int experts, List<TrainingSample> stage1, List<TrainingSample> stage2, int maxImages = 0)
    {
        foreach (var image in maxImages > 0 ? dataset.Split(split).Take(maxImages) : dataset.Split(split))
        {
            var sentences = image.Captions.Select(Tidy).Where(s => s.Length > 0).DistinctBy(CaptionCorpus.Key).ToList();
            if (sentences.Count == 0) continue;
            string? scene = image.Label is null ? null : $"{dataset.Name}:{image.Label}";
            foreach (var s in sentences) stage1.Add(new TrainingSample(image.FileName, CaptionPolicy.Instruction, s, 0, false, scene));
            AddSections(image.FileName, sentences.Select(s => new AspectSentence(s, AspectSplitter.LabelReference(s))).ToList(), experts, stage2);
            foreach (var qa in image.QaPairs)
                stage2.Add(new TrainingSample(image.FileName, qa.Question, qa.Answer,
                    TrainingSamples.ExpertOf(TrainingSamples.AspectOfQuestion(qa.Type), experts, qa.Type == "ab_position"), true));
        }
    }

    /// <summary>Each expert's examples from one image's (or mosaic's) labelled sentences, with the fallback described on <see cref="Add"/>.</summary>
    public static void AddSections(string imagePath, IReadOnlyList<AspectSentence> sentences, int experts, List<TrainingSample> stage2, string[]? mosaicWith = null)
    {
        var byExpert = Enumerable.Range(0, experts).Select(_ => new List<string>()).ToArray();
        foreach (var s in sentences) byExpert[TrainingSamples.ExpertOf(s.Aspect, experts, aboutTheImageFrame: IsAboutTheFrame(s.Text))].Add(s.Text);
        for (int e = 0; e < experts; e++)
        {
            var mine = byExpert[e];
            if (mine.Count == 0)
            {
                // Prefer a sentence the other experts hold several of; deterministic by image and expert.
                var spare = byExpert.Where(list => list.Count > 1).SelectMany(list => list.Skip(1)).ToList();
                var pool = spare.Count > 0 ? spare : sentences.Select(s => s.Text).ToList();
                mine = [pool[(int)((StableHash(Path.GetFileName(imagePath)) * 31 + (uint)e) % (uint)pool.Count)]];
            }
            foreach (var text in mine) stage2.Add(new TrainingSample(imagePath, CaptionPolicy.Instruction, text, e, false, MosaicWith: mosaicWith));
        }
    }

    internal static uint StableHash(string text)
    {
        uint hash = 2166136261;   // FNV-1a: string.GetHashCode differs between processes
        foreach (char c in text) hash = (hash ^ c) * 16777619;
        return hash;
    }

    static bool IsAboutTheFrame(string sentence) =>
        sentence.Contains("of the image", StringComparison.OrdinalIgnoreCase) || sentence.Contains("of the picture", StringComparison.OrdinalIgnoreCase);

    /// <summary>A reference as a sentence: spaces collapsed, a capital first letter, a final full stop.</summary>
    public static string Tidy(string reference)
    {
        string s = string.Join(' ', reference.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        if (s.Length == 0) return s;
        s = char.ToUpperInvariant(s[0]) + s[1..];
        return s[^1] is '.' or '!' or '?' ? s : s + ".";
    }
}
