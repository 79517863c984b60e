using RsMoe.Evaluation.Tokenization;

namespace RsMoe.Evaluation.Captions;

/// <summary>Corpus scores as fractions, per-image scores, and which METEOR modules ran.</summary>
public sealed record CaptionScores(
    double Bleu1, double Bleu2, double Bleu3, double Bleu4, double Meteor, double RougeL, double Cider,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> PerImage, string MeteorModules)
{
    public IReadOnlyDictionary<string, double> Corpus => new Dictionary<string, double>
    {
        ["Bleu_1"] = Bleu1, ["Bleu_2"] = Bleu2, ["Bleu_3"] = Bleu3, ["Bleu_4"] = Bleu4,
        ["METEOR"] = Meteor, ["ROUGE_L"] = RougeL, ["CIDEr"] = Cider,
    };
}

/// <summary>
/// Scores captions the way the COCO caption toolkit does: PTB-tokenise and filter both sides (unless they are
/// already tokenised), then BLEU-1..4, METEOR, ROUGE-L and CIDEr-D.
/// </summary>
public sealed class CaptionEvaluator
{
    readonly Meteor _meteor;

    public CaptionEvaluator(Meteor? meteor = null) => _meteor = meteor ?? new Meteor();

    public CaptionScores Score(IReadOnlyDictionary<string, string> candidates, IReadOnlyDictionary<string, IReadOnlyList<string>> references, bool tokenize = true)
    {
        foreach (var id in candidates.Keys)
        {
            if (!references.TryGetValue(id, out var refs) || refs.Count == 0)
                throw new ArgumentException($"image '{id}' has a prediction but no reference captions");
        }
        var cands = candidates.ToDictionary(c => c.Key, c => tokenize ? PtbTokenizer.Tokenize(c.Value) : c.Value);
        var refs2 = candidates.Keys.ToDictionary(id => id,
            id => (IReadOnlyList<string>)references[id].Select(r => tokenize ? PtbTokenizer.Tokenize(r) : r).ToList());

        var (bleu, bleuPerImage) = Bleu.Compute(cands, refs2);
        var (meteor, meteorPerImage) = _meteor.Compute(cands, refs2);
        var (rouge, rougePerImage) = RougeL.Compute(cands, refs2);
        var (cider, ciderPerImage) = CiderD.Compute(cands, refs2);
        var perImage = cands.Keys.ToDictionary(id => id, id => (IReadOnlyDictionary<string, double>)new Dictionary<string, double>
        {
            ["Bleu_1"] = bleuPerImage[id][0], ["Bleu_2"] = bleuPerImage[id][1], ["Bleu_3"] = bleuPerImage[id][2], ["Bleu_4"] = bleuPerImage[id][3],
            ["METEOR"] = meteorPerImage[id], ["ROUGE_L"] = rougePerImage[id], ["CIDEr"] = ciderPerImage[id],
        });
        return new CaptionScores(bleu[0], bleu[1], bleu[2], bleu[3], meteor, rouge, cider, perImage, _meteor.Modules.ToString());
    }
}
